/**
 * Bounces: reply classification, delivery status notifications (RFC 3464) and the suppression
 * list. `startBounceStage` gives a delivery worker its hooks: the suppression screen (before an
 * attempt) and, for core/settle, `classifyOutcome` before settle and a `BounceProcessor` after.
 */
export {
  type BounceCategory,
  classifyOutcome,
  classifyReply,
  enhancedStatus,
  type ReplyToClassify,
} from "./classify.ts";
export {
  buildDsn,
  type DsnInput,
  type DsnParams,
  dsnParamsFromMeta,
  type DsnRecipient,
  headerSection,
  statusOf,
  wantsFailureNotice,
} from "./dsn.ts";
export { BounceProcessor, type BounceProcessorOptions, planDsn } from "./processor.ts";
export { type BounceStage, type BounceStageOptions, startBounceStage } from "./stage.ts";
export {
  type Screened,
  suppressedReply,
  suppressionScreen,
  suppressionsFrom,
} from "./suppression.ts";
