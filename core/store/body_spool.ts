/**
 * The store's side of the body spool (core/spool/): what the `messages` rows say about a
 * segment (where its last indexed body ends, whether a message in it may still be read), the
 * start-up recovery and the freeing of settled segments built on that, and the writer's end.
 */
import { sql } from "kysely";
import {
  freeSegments,
  recoverSegments,
  type RecoveryResult,
  type SegmentIndex,
} from "../spool/mod.ts";
import type { SqlContext } from "./_sql.ts";

/** The spool's housekeeping (a no-op on a store without a spool folder). */
export interface BodySpoolStore {
  /**
   * Cuts unindexed tails off segments left open by a process that is gone, and seals them.
   * Call once at start, before any thread writes (null: no spool folder).
   */
  recoverSpool(): Promise<RecoveryResult | null>;
  /** Frees sealed segments whose messages were all settled before `now - graceMs`. */
  freeSpool(options: { now: number; graceMs: number }): Promise<number>;
}

function segmentIndex(ctx: SqlContext): SegmentIndex {
  return {
    async indexedEnd(segment) {
      const row = await ctx.db.selectFrom("messages")
        .select(sql<number | string | null>`max(body_offset + size)`.as("end"))
        .where("body_segment", "=", segment).executeTakeFirst();
      return Number(row?.end ?? 0);
    },
    async segmentInUse(segment, settledBefore) {
      // A unit not done (queued, held, quarantined) or done only lately keeps its body.
      const unit = await ctx.limit(
        ctx.db.selectFrom("messages").innerJoin("queue", "queue.message_id", "messages.id")
          .select("queue.id").where("messages.body_segment", "=", segment)
          .where((eb) =>
            eb.or([eb("queue.state", "<>", "done"), eb("queue.updated_at", ">=", settledBefore)])
          ),
        1,
      ).executeTakeFirst();
      if (unit) return true;
      // So does a DSN still to build (it quotes the original), however late its settle was:
      // pending, claimed by a worker, or quarantined until an operator releases it.
      const dsn = await ctx.limit(
        ctx.db.selectFrom("messages")
          .innerJoin("recipients", "recipients.message_id", "messages.id")
          .select("recipients.id").where("messages.body_segment", "=", segment)
          .where((eb) =>
            eb.or([
              eb("recipients.dsn", "in", ["pending", "quarantined"]),
              eb("recipients.dsn", "like", "claim:%"),
            ])
          ),
        1,
      ).executeTakeFirst();
      return dsn !== undefined;
    },
  };
}

/** The spool housekeeping on one database. */
export function bodySpoolRepository(ctx: SqlContext): BodySpoolStore {
  return {
    recoverSpool: () =>
      ctx.spool ? recoverSegments(ctx.spool.dir, segmentIndex(ctx)) : Promise.resolve(null),
    freeSpool: (options) =>
      ctx.spool ? freeSegments(ctx.spool.dir, segmentIndex(ctx), options) : Promise.resolve(0),
  };
}
