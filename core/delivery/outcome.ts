/**
 * The outcome of one attempt, built once it ends: held (not attempted), or a result per
 * recipient with the retry decision of core/settle (due again, or final).
 */
import type {
  HeldOutcome,
  HoldReason,
  LeasedUnit,
  OutcomeFacts,
  RecipientResult,
  RetryReason,
  UnitOutcome,
} from "../contracts/mod.ts";
import { decideRetry, type RetryPolicy } from "../settle/retry.ts";
import type { AttemptFacts } from "./deliverer.ts";

/** What an attempt knows from its start. */
export interface AttemptStart {
  /** The unit without the recipients split off before the attempt. */
  unit: LeasedUnit;
  started: number;
  /** [bounce hook] Final results of the recipients split off (suppressed). */
  screened: RecipientResult[];
  nodeId: string;
}

/** A held unit: due again at `until` (at the earliest 1 ms from now). */
export function heldOutcome(
  start: AttemptStart,
  facts: AttemptFacts,
  hold: { reason: HoldReason; until: number; why: string },
): HeldOutcome {
  const now = Date.now();
  // [bounce hook] screened results are final even when the rest waits.
  return withFacts(start, facts, now, start.screened, {
    kind: "held" as const,
    reason: hold.reason,
    until: Math.max(hold.until, now + 1),
    why: hold.why,
  });
}

/**
 * A tried unit: `results` by address (a recipient without one was not attempted, so deferred);
 * deferred ones are due again on the schedule of `reason`, or fail when the message is too old.
 */
export function triedOutcome(
  start: AttemptStart,
  facts: AttemptFacts,
  results: Map<string, RecipientResult>,
  reason: RetryReason,
  policy: () => RetryPolicy,
): UnitOutcome {
  const now = Date.now();
  const list = start.unit.recipients.map((address) =>
    results.get(address) ??
      { address, outcome: "deferred" as const, code: null, reply: "not attempted" }
  );
  const decision = decideRetry(start.unit, list, reason, policy, now);
  const all = [...start.screened, ...decision.results]; // [bounce hook]
  if (decision.kind === "final") {
    return withFacts(start, facts, now, all, { kind: "final" as const });
  }
  return withFacts(start, facts, now, all, {
    kind: "deferred" as const,
    retryAt: decision.retryAt,
    reason: decision.reason,
  });
}

function withFacts<T extends { kind: UnitOutcome["kind"] }>(
  start: AttemptStart,
  facts: AttemptFacts,
  now: number,
  results: RecipientResult[],
  variant: T,
): OutcomeFacts & T {
  const { unit } = start;
  return {
    unitId: unit.unitId,
    messageId: unit.messageId,
    domain: unit.domain,
    leaseToken: unit.leaseToken,
    at: now,
    durationMs: now - start.started,
    acceptedAt: unit.createdAt,
    sourceIp: facts.sourceIp,
    mxHost: facts.mxHost,
    remoteIp: facts.remoteIp,
    tls: facts.tls,
    results,
    site: facts.site,
    pool: facts.pool,
    tlsVersion: facts.tlsVersion,
    tlsVerified: facts.tlsVerified,
    nodeId: start.nodeId,
    tries: facts.tries,
    sender: unit.sender,
    attempt: unit.attempts,
    queuedAt: unit.createdAt,
    meta: unit.meta,
    ...variant,
  };
}
