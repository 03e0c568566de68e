/**
 * The queue by destination domain: open units (not done) counted by the state search shows
 * (queued, deferred, paused, quarantined: core/manage/queue_search.ts), the busiest domains
 * first. A page must not scan a backlog of millions, so it counts at most `SAMPLE` open units,
 * the soonest due first (through `queue_state_due`), and says when it did.
 */
import type { SqlContext } from "./_sql.ts";

/** Open units of one domain by state. */
export interface DomainQueue {
  domain: string;
  counts: { queued: number; deferred: number; paused: number; quarantined: number };
  total: number;
}

/** The busiest domains; `sampled`: more units are open than were counted. */
export interface QueueSummary {
  domains: DomainQueue[];
  counted: number;
  sampled: boolean;
}

/** What the queue page reads. */
export interface QueueSummaryStore {
  /** The `limit` domains with the most open units (among the soonest due `SAMPLE`). */
  openUnitsByDomain(limit: number): Promise<QueueSummary>;
}

/** Open units a summary counts at most. */
export const SAMPLE = 20_000;

async function openUnitsByDomain(ctx: SqlContext, limit: number): Promise<QueueSummary> {
  const open = (state: "queued" | "quarantined") =>
    ctx.limit(
      ctx.db.selectFrom("queue").select(["domain", "state", "held", "attempts"])
        .where("state", "=", state).orderBy("due_at"),
      SAMPLE + 1,
    );
  const count = (state: "queued" | "quarantined") =>
    ctx.db.selectFrom(open(state).as("open"))
      .select((eb) => [
        "domain",
        "state",
        eb.case().when("held", "is not", null).then(1).else(0).end().as("is_held"),
        eb.case().when("attempts", ">", 0).then(1).else(0).end().as("tried"),
        eb.fn.countAll<number>().as("n"),
      ])
      .groupBy(["domain", "state", "is_held", "tried"])
      .execute();
  const rows = [...await count("queued"), ...await count("quarantined")];
  const byDomain = new Map<string, DomainQueue>();
  for (const row of rows) {
    const entry = byDomain.get(row.domain) ?? {
      domain: row.domain,
      counts: { queued: 0, deferred: 0, paused: 0, quarantined: 0 },
      total: 0,
    };
    const n = Number(row.n);
    const key = row.state === "quarantined"
      ? "quarantined"
      : Number(row.is_held)
      ? "paused"
      : Number(row.tried)
      ? "deferred"
      : "queued";
    entry.counts[key] += n;
    entry.total += n;
    byDomain.set(row.domain, entry);
  }
  const domains = [...byDomain.values()].sort((a, b) => b.total - a.total);
  const counted = domains.reduce((sum, d) => sum + d.total, 0);
  return { domains: domains.slice(0, limit), counted, sampled: counted > SAMPLE };
}

/** The queue summary on one database. */
export function queueSummaryRepository(ctx: SqlContext): QueueSummaryStore {
  return { openUnitsByDomain: (limit) => openUnitsByDomain(ctx, limit) };
}
