/**
 * The deliver side of the RabbitMQ queue: settling a batch of outcomes. The next copy of a
 * unit that stays queued (a retry of deferred recipients, or a unit held by shaping) is
 * published and confirmed first, then the outcomes are committed in SQL, each claiming its
 * unit by copy number (copy n → n + 1: the first outcome of copy n wins, later ones are only
 * logged); the leasing side acks afterwards. Whatever crashes in between, either the original
 * or the next copy is still in the broker and matches SQL (at-least-once). Handling failures
 * are counted here too (core/queue/failures.ts).
 *
 * Reads config: nodeId, queue.quarantine_after.
 */
import { QUEUED_UNIT_VERSION, type UnitOutcome } from "../contracts/mod.ts";
import { BrokerUnavailableError } from "./broker.ts";
import type { FailureRecord, UnitFailure } from "./failures.ts";
import { parseToken } from "./rabbit_codec.ts";
import { confirmed, type RabbitContext } from "./rabbit_publisher.ts";

const FINAL = new Set(["delivered", "failed", "suppressed"]);

/**
 * Records outcomes (next copies first); returns how many had lost their claim. Rejects if
 * nothing was recorded.
 */
export async function settleOutcomes(
  ctx: RabbitContext,
  outcomes: UnitOutcome[],
): Promise<number> {
  if (outcomes.length === 0) return 0;
  const { publisher, store } = ctx;
  // Units that stay queued get their next copy (retry or hold) before SQL says so.
  const next = outcomes.filter((o) => o.kind !== "final");
  if (next.length > 0) {
    const ch = publisher.channelOrThrow();
    const origins = await store.unitOrigins(next.map((o) => o.unitId));
    const now = Date.now();
    const published: Promise<void>[] = [];
    for (const o of next) {
      const origin = origins.get(o.unitId);
      if (!origin) continue;
      const done = new Set(o.results.filter((r) => FINAL.has(r.outcome)).map((r) => r.address));
      const recipients = origin.open.filter((address) => !done.has(address));
      if (recipients.length === 0) continue;
      const { copy, attempts, priority } = parseToken(o.leaseToken);
      published.push(publisher.publish(ch, {
        v: QUEUED_UNIT_VERSION,
        unitId: o.unitId,
        messageId: o.messageId,
        domain: o.domain,
        sender: origin.sender,
        recipients,
        copy: copy + 1,
        attempts: o.kind === "held" ? attempts : attempts + 1,
        createdAt: origin.createdAt,
        dueAt: o.kind === "held" ? o.until : o.retryAt,
        priority,
      }, now));
    }
    try {
      await confirmed(published, "retries");
    } catch (error) {
      throw new BrokerUnavailableError((error as Error).message);
    }
  }
  return await store.settle(outcomes, {
    claim: (o) => parseToken(o.leaseToken).copy,
    nodeId: ctx.config.nodeId,
  });
}

/** Counts handling failures on the units' current copies (quarantined at the limit). */
export function recordFailures(
  ctx: RabbitContext,
  failures: UnitFailure[],
): Promise<FailureRecord[]> {
  return ctx.store.quarantine.recordFailures(
    failures.map((f) => ({ ...f, copy: f.copy ?? parseToken(f.leaseToken).copy })),
    { limit: ctx.config.queue.quarantine_after, now: Date.now() },
  );
}
