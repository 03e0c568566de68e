/** The suppression list: addresses that hard-bounced, kept lower-cased until they expire. */
import { chunks, LIST_CHUNK, type SqlContext } from "./_sql.ts";
import type { SuppressionsTable } from "./tables.ts";

/** An address on the suppression list. Addresses are kept lower-cased. */
export interface Suppression {
  address: string;
  category: string;
  code: number | null;
  reason: string | null;
  messageId: string | null;
  createdAt: number;
  expiresAt: number;
  /** Where it came from: "smtp" (a remote reply), "dsn" (an asynchronous bounce), … */
  source?: string | null;
}

/** What bounce handling, delivery screening and the suppression commands take. */
export interface SuppressionStore {
  /** The active suppressions among `addresses` (compared lower-cased). */
  suppressions(addresses: string[], now: number): Promise<Suppression[]>;
  /** Adds or replaces suppressions. */
  addSuppressions(entries: Suppression[]): Promise<void>;
  /** Removes one address from the list; false when it was not there. */
  removeSuppression(address: string): Promise<boolean>;
  /** Active suppressions, newest first. */
  listSuppressions(now: number, limit: number): Promise<Suppression[]>;
}

function suppressionOf(row: SuppressionsTable): Suppression {
  return {
    address: row.address,
    category: row.category,
    code: row.code === null ? null : Number(row.code),
    reason: row.reason,
    messageId: row.message_id,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    source: row.source ?? null,
  };
}

async function suppressions(
  { db }: SqlContext,
  addresses: string[],
  now: number,
): Promise<Suppression[]> {
  if (addresses.length === 0) return [];
  const wanted = [...new Set(addresses.map((a) => a.toLowerCase()))];
  const out: Suppression[] = [];
  for (const part of chunks(wanted, LIST_CHUNK)) {
    const rows = await db.selectFrom("suppressions").selectAll()
      .where("address", "in", part).where("expires_at", ">", now).execute();
    out.push(...rows.map(suppressionOf));
  }
  return out;
}

async function addSuppressions(ctx: SqlContext, entries: Suppression[]): Promise<void> {
  if (entries.length === 0) return;
  const byAddress = new Map(entries.map((e) => [e.address.toLowerCase(), e]));
  const rows = [...byAddress].map(([address, e]) => ({
    address,
    category: e.category,
    code: e.code,
    reason: e.reason,
    message_id: e.messageId,
    created_at: e.createdAt,
    expires_at: e.expiresAt,
    source: e.source ?? null,
  }));
  // Delete then insert: a portable upsert.
  await ctx.transaction(async (trx) => {
    for (const part of chunks(rows, LIST_CHUNK)) {
      await trx.deleteFrom("suppressions").where("address", "in", part.map((r) => r.address))
        .execute();
      await trx.insertInto("suppressions").values(part).execute();
    }
  });
}

async function removeSuppression({ db }: SqlContext, address: string): Promise<boolean> {
  const result = await db.deleteFrom("suppressions")
    .where("address", "=", address.toLowerCase()).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

async function listSuppressions(
  ctx: SqlContext,
  now: number,
  limit: number,
): Promise<Suppression[]> {
  const query = ctx.db.selectFrom("suppressions").selectAll()
    .where("expires_at", ">", now).orderBy("created_at", "desc");
  const rows = await ctx.limit(query, limit).execute();
  return rows.map(suppressionOf);
}

/** The suppression list on one database. */
export function suppressionRepository(ctx: SqlContext): SuppressionStore {
  return {
    suppressions: (addresses, now) => suppressions(ctx, addresses, now),
    addSuppressions: (entries) => addSuppressions(ctx, entries),
    removeSuppression: (address) => removeSuppression(ctx, address),
    listSuppressions: (now, limit) => listSuppressions(ctx, now, limit),
  };
}
