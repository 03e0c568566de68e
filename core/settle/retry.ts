/**
 * The retry decision of one attempt: when a unit with deferred recipients is due again (the
 * retry schedule of the reason it was deferred for), or that it is too old to try again, in
 * which case its deferred recipients fail. Pure: the caller passes the clock.
 */
import type { LeasedUnit, RecipientResult, RetryReason } from "../contracts/mod.ts";

/** The retry settings of the rule in force for a destination (core/routing/policy.ts). */
export interface RetryPolicy {
  /** Delays after a remote 4xx or our own trouble (`remote`, `local`), by attempt. */
  retrySchedule: readonly number[];
  /** Delays after a connect, DNS or TLS failure, by attempt. */
  connectRetrySchedule: readonly number[];
  /** A unit older than this (ms since it was queued) is not tried again. */
  maxAge: number;
}

/** What settle records for an attempt's recipients: done, or due again at `retryAt`. */
export type RetryDecision =
  | { kind: "final"; results: RecipientResult[] }
  | { kind: "deferred"; results: RecipientResult[]; retryAt: number; reason: RetryReason };

/**
 * The delay before the next attempt after attempt number `attempts` (1-based): the schedule's
 * entry, the last one repeating.
 */
export function scheduleDelay(schedule: readonly number[], attempts: number): number {
  return schedule[Math.min(Math.max(attempts, 1), schedule.length) - 1];
}

/**
 * Decides what happens to `results` (one per recipient, deferred ones included): final when
 * none is deferred; otherwise due again after the schedule of `reason`, unless that is past
 * the rule's max age, when the deferred recipients fail ("giving up: message too old").
 * `policy` is only called when a recipient was deferred.
 */
export function decideRetry(
  unit: Pick<LeasedUnit, "attempts" | "createdAt">,
  results: RecipientResult[],
  reason: RetryReason,
  policy: () => RetryPolicy,
  now: number,
): RetryDecision {
  if (!results.some((r) => r.outcome === "deferred")) return { kind: "final", results };
  const rule = policy();
  const schedule = reason === "remote" || reason === "local"
    ? rule.retrySchedule
    : rule.connectRetrySchedule;
  const retryAt = now + scheduleDelay(schedule, unit.attempts);
  if (retryAt - unit.createdAt <= rule.maxAge) {
    return { kind: "deferred", results, retryAt, reason };
  }
  return {
    kind: "final",
    results: results.map((r) =>
      r.outcome === "deferred"
        ? {
          ...r,
          outcome: "failed",
          reply: `${r.reply} (giving up: message too old)`,
          expired: true,
        }
        : r
    ),
  };
}
