/**
 * Stored pauses (migrations/0014_queue_ops.ts): cluster-wide holds that the scheduler of every
 * node reads (core/schedule/pauses.ts). A small table, read whole.
 */
import type { SqlContext } from "./_sql.ts";

/** One pause as stored. */
export interface PauseRecord {
  id: string;
  /** "vmta" or "pool" with `source`; null: any source. */
  sourceKind: "vmta" | "pool" | null;
  source: string | null;
  domain: string | null;
  tag: string | null;
  /** The destination site: an MX host of it, or *.domain (absent: any site). */
  site?: string | null;
  /** When it ends by itself; null: until removed. */
  endsAt: number | null;
  reason: string | null;
  createdBy: string;
  createdAt: number;
}

/** Pauses (the store role). */
export interface PauseStore {
  /** Every stored pause (ended ones too, until removed), oldest first. */
  listPauses(): Promise<PauseRecord[]>;
  insertPause(pause: PauseRecord): Promise<void>;
  /** Removes a pause; whether it existed. */
  deletePause(id: string): Promise<boolean>;
  /** Removes pauses that ended before `now`; their ids. */
  deleteEndedPauses(now: number): Promise<string[]>;
}

async function listPauses({ db }: SqlContext): Promise<PauseRecord[]> {
  const rows = await db.selectFrom("pauses").selectAll().orderBy("created_at").orderBy("id")
    .execute();
  return rows.map((r) => ({
    id: r.id,
    sourceKind: r.source_kind === "vmta" || r.source_kind === "pool" ? r.source_kind : null,
    source: r.source,
    domain: r.domain,
    tag: r.tag,
    site: r.site,
    endsAt: r.ends_at === null ? null : Number(r.ends_at),
    reason: r.reason,
    createdBy: r.created_by,
    createdAt: Number(r.created_at),
  }));
}

async function insertPause({ db }: SqlContext, p: PauseRecord): Promise<void> {
  await db.insertInto("pauses").values({
    id: p.id,
    source_kind: p.sourceKind,
    source: p.source,
    domain: p.domain,
    tag: p.tag,
    site: p.site ?? null,
    ends_at: p.endsAt,
    reason: p.reason,
    created_by: p.createdBy,
    created_at: p.createdAt,
  }).execute();
}

async function deletePause({ db }: SqlContext, id: string): Promise<boolean> {
  const result = await db.deleteFrom("pauses").where("id", "=", id).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

async function deleteEndedPauses({ db }: SqlContext, now: number): Promise<string[]> {
  const ended = await db.selectFrom("pauses").select("id").where("ends_at", "<", now).execute();
  if (ended.length === 0) return [];
  const ids = ended.map((r) => r.id);
  await db.deleteFrom("pauses").where("id", "in", ids).execute();
  return ids;
}

/** The pause store on one database. */
export function pauseRepository(ctx: SqlContext): PauseStore {
  return {
    listPauses: () => listPauses(ctx),
    insertPause: (p) => insertPause(ctx, p),
    deletePause: (id) => deletePause(ctx, id),
    deleteEndedPauses: (now) => deleteEndedPauses(ctx, now),
  };
}
