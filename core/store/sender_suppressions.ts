/**
 * Suppressions for one sending domain (complaints, one-click unsubscribes): the address still
 * gets mail from other senders. Kept lower-cased beside the global list (suppressions.ts).
 */
import { chunks, LIST_CHUNK, type SqlContext } from "./_sql.ts";
import type { SenderSuppressionsTable } from "./tables.ts";

/** An address suppressed for one sending domain. */
export interface SenderSuppression {
  senderDomain: string;
  address: string;
  category: string;
  reason: string | null;
  /** "complaint", "unsubscribe", … */
  source: string;
  messageId: string | null;
  createdAt: number;
  expiresAt: number;
}

/** What complaint/unsubscribe handling and the delivery screen take. */
export interface SenderSuppressionStore {
  /** Active suppressions of `addresses` for `senderDomain`. */
  senderSuppressions(
    senderDomain: string,
    addresses: string[],
    now: number,
  ): Promise<SenderSuppression[]>;
  /** Adds or replaces suppressions. */
  addSenderSuppressions(entries: SenderSuppression[]): Promise<void>;
}

function suppressionOf(row: SenderSuppressionsTable): SenderSuppression {
  return {
    senderDomain: row.sender_domain,
    address: row.address,
    category: row.category,
    reason: row.reason,
    source: row.source,
    messageId: row.message_id,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
  };
}

async function senderSuppressions(
  { db }: SqlContext,
  senderDomain: string,
  addresses: string[],
  now: number,
): Promise<SenderSuppression[]> {
  if (addresses.length === 0) return [];
  const wanted = [...new Set(addresses.map((a) => a.toLowerCase()))];
  const out: SenderSuppression[] = [];
  for (const part of chunks(wanted, LIST_CHUNK)) {
    const rows = await db.selectFrom("sender_suppressions").selectAll()
      .where("sender_domain", "=", senderDomain.toLowerCase())
      .where("address", "in", part).where("expires_at", ">", now).execute();
    out.push(...rows.map(suppressionOf));
  }
  return out;
}

async function addSenderSuppressions(ctx: SqlContext, entries: SenderSuppression[]) {
  for (const e of entries) {
    const row = {
      sender_domain: e.senderDomain.toLowerCase(),
      address: e.address.toLowerCase(),
      category: e.category,
      reason: e.reason?.slice(0, 1000) ?? null,
      source: e.source,
      message_id: e.messageId,
      created_at: e.createdAt,
      expires_at: e.expiresAt,
    };
    // Delete then insert: a portable upsert.
    await ctx.transaction(async (trx) => {
      await trx.deleteFrom("sender_suppressions").where("sender_domain", "=", row.sender_domain)
        .where("address", "=", row.address).execute();
      await trx.insertInto("sender_suppressions").values(row).execute();
    });
  }
}

/** Per-sender suppressions on one database. */
export function senderSuppressionRepository(ctx: SqlContext): SenderSuppressionStore {
  return {
    senderSuppressions: (domain, addresses, now) => senderSuppressions(ctx, domain, addresses, now),
    addSenderSuppressions: (entries) => addSenderSuppressions(ctx, entries),
  };
}
