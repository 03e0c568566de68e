/**
 * The dashboard's time series: per minute, messages accepted and attempts by outcome, and the
 * delivery latency (attempt time minus acceptance) of the delivered ones. Reads only rows since
 * the window's start through indexes: messages by their time-ordered id (`sinceId`, the caller's
 * queue-id prefix for the start), attempts by `attempts_at`; latency from at most
 * `LATENCY_SAMPLE` recent deliveries (each joined to its small queue row, not to the message
 * with its body), so a busy hour costs the same as a quiet one.
 */
import { sql } from "kysely";
import type { SqlContext } from "./_sql.ts";

/** One minute of activity; `minute` is its start (ms since the epoch). */
export interface ActivityMinute {
  minute: number;
  accepted: number;
  delivered: number;
  deferred: number;
  bounced: number;
  /** Delivery latency percentiles in ms; null when nothing was delivered that minute. */
  latency_p50: number | null;
  latency_p99: number | null;
}

/** What the dashboard reads. */
export interface ActivityStore {
  /** Minutes from `since` (rounded down to a minute) on; `sinceId` bounds the message ids. */
  activitySince(since: number, sinceId: string): Promise<ActivityMinute[]>;
}

const MINUTE = 60_000;
const LATENCY_SAMPLE = 5_000;

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

async function activitySince(
  ctx: SqlContext,
  since: number,
  sinceId: string,
): Promise<ActivityMinute[]> {
  const start = since - (since % MINUTE);
  const now = Date.now();
  const minutes = new Map<number, ActivityMinute>();
  for (let m = start; m <= now; m += MINUTE) {
    minutes.set(m, {
      minute: m,
      accepted: 0,
      delivered: 0,
      deferred: 0,
      bounced: 0,
      latency_p50: null,
      latency_p99: null,
    });
  }
  // `at - at % 60000`: integer arithmetic every dialect has (no floor() on every SQLite build).
  const bucket = sql<number>`(at - (at % 60000))`;
  const attempts = await ctx.db.selectFrom("attempts")
    .select((eb) => [bucket.as("minute"), "outcome", eb.fn.countAll<number>().as("n")])
    .where("at", ">=", start)
    .where("outcome", "in", ["delivered", "deferred", "failed"])
    .groupBy([bucket, "outcome"]).execute();
  for (const row of attempts) {
    const entry = minutes.get(Number(row.minute));
    if (!entry) continue;
    const n = Number(row.n);
    if (row.outcome === "delivered") entry.delivered += n;
    else if (row.outcome === "deferred") entry.deferred += n;
    else entry.bounced += n;
  }
  const createdBucket = sql<number>`(created_at - (created_at % 60000))`;
  const accepted = await ctx.db.selectFrom("messages")
    .select((eb) => [createdBucket.as("minute"), eb.fn.countAll<number>().as("n")])
    .where("id", ">=", sinceId)
    .where("created_at", ">=", start)
    .groupBy(createdBucket).execute();
  for (const row of accepted) {
    const entry = minutes.get(Number(row.minute));
    if (entry) entry.accepted += Number(row.n);
  }
  // The unit's created_at is the message's acceptance; queue rows are small (messages hold bodies).
  const latencyQuery = ctx.db.selectFrom("attempts")
    .innerJoin("queue", "queue.id", "attempts.unit_id")
    .select(["attempts.at as at", "queue.created_at as created_at"])
    .where("attempts.at", ">=", start)
    .where("attempts.outcome", "=", "delivered")
    .orderBy("attempts.at", "desc");
  const deliveries = await ctx.limit(latencyQuery, LATENCY_SAMPLE).execute();
  const latencies = new Map<number, number[]>();
  for (const row of deliveries) {
    const at = Number(row.at);
    const m = at - (at % MINUTE);
    const list = latencies.get(m) ?? [];
    list.push(Math.max(0, at - Number(row.created_at)));
    latencies.set(m, list);
  }
  for (const [m, list] of latencies) {
    const entry = minutes.get(m);
    if (!entry) continue;
    list.sort((a, b) => a - b);
    entry.latency_p50 = percentile(list, 0.5);
    entry.latency_p99 = percentile(list, 0.99);
  }
  return [...minutes.values()];
}

/** The activity view on one database. */
export function activityRepository(ctx: SqlContext): ActivityStore {
  return { activitySince: (since, sinceId) => activitySince(ctx, since, sinceId) };
}
