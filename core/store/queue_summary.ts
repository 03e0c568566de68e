/**
 * The queue by destination domain, by pool or by vmta: open units (not done) counted by the
 * state search shows (queued, deferred, paused, quarantined: core/manage/queue_search.ts), the
 * busiest rows first. A page must not scan a backlog of millions, so it counts at most `SAMPLE`
 * open units of each state, the soonest due first (through `queue_state_due`), and says when it
 * did. A unit's pool is its message's (`messages.pool`); its vmta is the source IP of its last
 * attempt (the address a vmta pause names), "" before its first attempt.
 */
import { type Expression, sql } from "kysely";
import type { SqlContext } from "./_sql.ts";
import { recountTotals, type TotalRecount } from "./recipient_totals.ts";

/** What a queue view groups by. */
export type QueueGrouping = "domain" | "pool" | "vmta";

/** The groupings, in the order the queue page shows its tabs. */
export const QUEUE_GROUPINGS: readonly QueueGrouping[] = ["domain", "pool", "vmta"];

/** Open units by state. */
export type QueueStateCounts = {
  queued: number;
  deferred: number;
  paused: number;
  quarantined: number;
};

/** Open units of one row (a domain, a pool or a vmta) by state. */
export interface QueueRow {
  /** The domain, pool or vmta address; "" for units without a pool or not yet tried. */
  key: string;
  counts: QueueStateCounts;
  total: number;
}

/** Open units of one domain by state. */
export interface DomainQueue {
  domain: string;
  counts: QueueStateCounts;
  total: number;
}

/** The busiest domains; `sampled`: more units are open than were counted. */
export interface QueueSummary {
  domains: DomainQueue[];
  counted: number;
  sampled: boolean;
}

/** The busiest rows of one grouping; `sampled`: more units are open than were counted. */
export interface QueueView {
  by: QueueGrouping;
  rows: QueueRow[];
  counted: number;
  sampled: boolean;
}

/** What the queue page reads. */
export interface QueueSummaryStore {
  /** The `limit` domains with the most open units (among the soonest due `SAMPLE`). */
  openUnitsByDomain(limit: number): Promise<QueueSummary>;
  /** The `limit` rows of `by` with the most open units (among the soonest due `SAMPLE`). */
  openUnitsBy(by: QueueGrouping, limit: number): Promise<QueueView>;
  /** Sets the terminal totals to a full count of the recipient rows (recipient_totals.ts). */
  recountTotals(): Promise<TotalRecount[]>;
}

/** Open units a summary counts at most. */
export const SAMPLE = 20_000;

type OpenState = "queued" | "quarantined";

/** The soonest due open units of one state, each with its row key. */
function openUnits(ctx: SqlContext, by: QueueGrouping, state: OpenState) {
  const base = ctx.db.selectFrom("queue").where("queue.state", "=", state);
  const columns = [
    "queue.state as state",
    "queue.held as held",
    "queue.attempts as attempts",
  ] as const;
  if (by === "domain") {
    return ctx.limit(
      base.select([...columns, "queue.domain as key"]).orderBy("queue.due_at"),
      SAMPLE + 1,
    );
  }
  if (by === "pool") {
    return ctx.limit(
      base.innerJoin("messages", "messages.id", "queue.message_id")
        .select([...columns, "messages.pool as key"]).orderBy("queue.due_at"),
      SAMPLE + 1,
    );
  }
  // The last attempt's source IP, found through attempts_message (there is no unit index).
  return ctx.limit(
    base.select((eb) => [
      ...columns,
      ctx.limit(
        eb.selectFrom("attempts").select("attempts.source_ip")
          .whereRef("attempts.message_id", "=", "queue.message_id")
          .whereRef("attempts.unit_id", "=", "queue.id")
          .where("attempts.source_ip", "is not", null)
          .orderBy("attempts.id", "desc"),
        1,
      ).as("key"),
    ]).orderBy("queue.due_at"),
    SAMPLE + 1,
  );
}

/** The state a row shows for one (state, held, tried) group. */
function shownState(state: string, held: boolean, tried: boolean): keyof QueueStateCounts {
  if (state === "quarantined") return "quarantined";
  if (held) return "paused";
  return tried ? "deferred" : "queued";
}

async function openUnitsBy(
  ctx: SqlContext,
  by: QueueGrouping,
  limit: number,
): Promise<QueueView> {
  const count = (state: OpenState) =>
    ctx.db.selectFrom(openUnits(ctx, by, state).as("open"))
      .select((eb) => [
        sql<string | null>`${sql.ref("open.key")}`.as("key"),
        "open.state",
        eb.case().when("open.held", "is not", null).then(1).else(0).end().as("is_held"),
        eb.case().when("open.attempts", ">", 0).then(1).else(0).end().as("tried"),
        eb.fn.countAll<number>().as("n"),
      ])
      .groupBy([sql.ref("open.key") as Expression<unknown>, "open.state", "is_held", "tried"])
      .execute();
  const rows = [...await count("queued"), ...await count("quarantined")];
  const byKey = new Map<string, QueueRow>();
  for (const row of rows) {
    const key = row.key ?? "";
    const entry = byKey.get(key) ??
      { key, counts: { queued: 0, deferred: 0, paused: 0, quarantined: 0 }, total: 0 };
    const n = Number(row.n);
    entry.counts[shownState(row.state, Number(row.is_held) === 1, Number(row.tried) === 1)] += n;
    entry.total += n;
    byKey.set(key, entry);
  }
  const sorted = [...byKey.values()].sort((a, b) => b.total - a.total || (a.key < b.key ? -1 : 1));
  const counted = sorted.reduce((sum, r) => sum + r.total, 0);
  return { by, rows: sorted.slice(0, limit), counted, sampled: counted > SAMPLE };
}

async function openUnitsByDomain(ctx: SqlContext, limit: number): Promise<QueueSummary> {
  const view = await openUnitsBy(ctx, "domain", limit);
  return {
    domains: view.rows.map((r) => ({ domain: r.key, counts: r.counts, total: r.total })),
    counted: view.counted,
    sampled: view.sampled,
  };
}

/** The queue summary on one database. */
export function queueSummaryRepository(ctx: SqlContext): QueueSummaryStore {
  return {
    openUnitsByDomain: (limit) => openUnitsByDomain(ctx, limit),
    openUnitsBy: (by, limit) => openUnitsBy(ctx, by, limit),
    recountTotals: () => recountTotals(ctx),
  };
}
