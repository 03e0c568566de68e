/**
 * Bounces: reply classification, delivery status notifications (RFC 3464) and the suppression
 * list. Delivery calls `suppressionScreen` before a transaction and `classifyOutcome` on each
 * outcome; the delivery worker hands settled batches to a `BounceProcessor`.
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
export {
  type Screened,
  suppressedReply,
  suppressionScreen,
  suppressionsFrom,
} from "./suppression.ts";
