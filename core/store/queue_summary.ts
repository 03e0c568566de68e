/**
 * The queue by destination domain: open units (not done) counted by the state search shows
 * (queued, deferred, paused, quarantined: core/manage/queue_search.ts), the busiest domains
 * first. Reads the `queue_state_due`/`queue_domain_state` indexes' rows of open units only.
 */
import type { SqlContext } from "./_sql.ts";

/** Open units of one domain by state. */
export interface DomainQueue {
  domain: string;
  counts: { queued: number; deferred: number; paused: number; quarantined: number };
  total: number;
}

/** What the queue page reads. */
export interface QueueSummaryStore {
  /** The `limit` domains with the most open units. */
  openUnitsByDomain(limit: number): Promise<DomainQueue[]>;
}

async function openUnitsByDomain(ctx: SqlContext, limit: number): Promise<DomainQueue[]> {
  const rows = await ctx.db.selectFrom("queue")
    .select((eb) => [
      "domain",
      "state",
      eb.case().when("held", "is not", null).then(1).else(0).end().as("is_held"),
      eb.case().when("attempts", ">", 0).then(1).else(0).end().as("tried"),
      eb.fn.countAll<number>().as("n"),
    ])
    .where("state", "in", ["queued", "quarantined"])
    .groupBy(["domain", "state", "is_held", "tried"])
    .execute();
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
  return [...byDomain.values()].sort((a, b) => b.total - a.total).slice(0, limit);
}

/** The queue summary on one database. */
export function queueSummaryRepository(ctx: SqlContext): QueueSummaryStore {
  return { openUnitsByDomain: (limit) => openUnitsByDomain(ctx, limit) };
}
