/**
 * The operator's actions on the RabbitMQ queue. Retry now: SQL moves each waiting unit on to its
 * next copy with a conditional update (still at the copy read), and inside that transaction the
 * caller publishes (confirmed) only the copies its update moved, then commits; so two processes
 * retrying one unit at once publish one live copy, and the copy waiting in a delay queue is found
 * stale and dropped when it comes due. A consumer that sees the new copy before the commit parks
 * it for a moment (core/queue/rabbit_leases.ts). Claim (for bounce now): the unit's live
 * copy is named in a lease token, so a final outcome settled with it moves SQL past every copy
 * in the broker. Pause holds from the scheduler settle like delivery's held outcomes.
 */
import { type HeldOutcome, type LeasedUnit, parseMeta } from "../contracts/mod.ts";
import { settleOutcomes } from "./rabbit_settler.ts";
import { publishNextCopies, type RabbitContext } from "./rabbit_publisher.ts";

/** Makes waiting units (due later, recipients open) due now; how many. */
export async function retryNowOnBroker(
  ctx: RabbitContext,
  unitIds: string[],
): Promise<number> {
  const now = Date.now();
  const waiting = (await ctx.store.unitCopies(unitIds))
    .filter((u) => u.dueAt > now && u.recipients.length > 0);
  if (waiting.length === 0) return 0;
  const { publisher } = ctx;
  const ch = publisher.channelOrThrow();
  return await ctx.store.moveCopies(waiting, now, async (moved) => {
    await publishNextCopies(publisher, ch, moved, now, "retried units");
  });
}

/**
 * Leased units for a final outcome, each naming its live copy (`op.0.<copy>.<attempts>.<p>`,
 * the lease token format of rabbit_codec.ts without a delivery to ack).
 */
export async function claimOnBroker(
  ctx: RabbitContext,
  unitIds: string[],
): Promise<LeasedUnit[]> {
  const units = await ctx.store.unitCopies(unitIds);
  return units.filter((u) => u.recipients.length > 0).map((u) => {
    const meta = parseMeta(u.meta);
    const priority = ctx.publisher.level(meta?.priority);
    return {
      v: 1 as const,
      unitId: u.unitId,
      messageId: u.messageId,
      domain: u.domain,
      sender: u.sender,
      attempts: u.attempts,
      createdAt: u.createdAt,
      leaseToken: `op.0.${u.copy}.${u.attempts}.${priority}`,
      recipients: u.recipients,
      meta,
    };
  });
}

/** Settles held outcomes (their next copy first); the caller acks the copies it holds. */
export async function holdOnBroker(ctx: RabbitContext, outcomes: HeldOutcome[]): Promise<void> {
  await settleOutcomes(ctx, outcomes);
}
