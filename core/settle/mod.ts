/**
 * The settle stage (DESIGN contract 3: every outcome goes through here): batching outcomes into
 * queue settles, holding them while the database is away, the retry/max-age decision of each
 * attempt (retry.ts), and the hooks around settle (classification before; suppressions and DSNs
 * once a batch is durable), given to the settler when it is built.
 */
export { type OnSettled, type SettleHooks, Settler, type SettlerOptions } from "./settler.ts";
export type { OutcomeLog } from "./record.ts";
export { decideRetry, type RetryDecision, type RetryPolicy, scheduleDelay } from "./retry.ts";
