/**
 * Bounces: reply classification, delivery status notifications (RFC 3464) and the suppression
 * list. `startBounceStage` gives a delivery worker its hooks: the suppression screen (before an
 * attempt) and, for core/settle, `classifyOutcome` before settle and a `BounceProcessor` after.
 */
export {
  BOUNCE_CATEGORIES,
  type BounceCategory,
  classifyOutcome,
  classifyReply,
  enhancedStatus,
  isBounceCategory,
  type ReplyToClassify,
} from "./classify.ts";
export {
  bouncePatternProblem,
  matchBounceRule,
  MAX_PATTERN_LENGTH,
  orderBounceRules,
} from "./operator_rules.ts";
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
  BounceReportProcessor,
  type ReceivedReport,
  type ReportProcessorOptions,
  verdictOf,
} from "./reports.ts";
export { type ParsedReport, parseReport } from "./report_parse.ts";
export { matchReport, verifyToken } from "./report_match.ts";
export {
  loadTokenKey,
  makeToken,
  splitToken,
  type TokenKey,
  tokenRecipient,
  verpAddress,
} from "./tokens.ts";
export {
  type Screened,
  suppressedReply,
  suppressionScreen,
  suppressionsFrom,
} from "./suppression.ts";
export { personalizeHook, unsubscribeHeaders, unsubscribeUrl, wantsVerp } from "./personalize.ts";
export {
  openUnsubscribe,
  type UnsubscribeAction,
  unsubscribeAction,
  type Unsubscribed,
} from "./unsubscribe.ts";
