/**
 * Delivery status notifications owed to senders: settle marks a recipient's DSN `pending`;
 * a bounce worker claims pending ones (atomically per row, so concurrent claimers get disjoint
 * sets), builds the reports and marks them sent or skipped.
 */
import type { Kysely } from "kysely";
import { chunks, LIST_CHUNK, type SqlContext } from "./_sql.ts";
import type { RecipientState, Tables } from "./tables.ts";

/** A recipient whose delivery status notification is due, with what the report needs. */
export interface DsnRecipientRow {
  id: number;
  address: string;
  state: RecipientState;
  code: number | null;
  reply: string | null;
  category: string | null;
  updatedAt: number;
  /** Host and address of the last attempt that reached a server, if any. */
  mxHost: string | null;
  remoteIp: string | null;
}

/** One message's recipients claimed for a DSN. */
export interface DsnWork {
  messageId: string;
  sender: string;
  channel: string;
  createdAt: number;
  meta: Record<string, unknown> | null;
  recipients: DsnRecipientRow[];
}

/** A request to claim due DSNs (see `DsnStore.claimDsns`). */
export interface DsnClaim {
  /** Written into `recipients.dsn` while this claimer builds the reports. */
  token: string;
  /** Only these messages (the ones a worker just settled); all when absent. */
  messageIds?: string[];
  limit: number;
}

/** What the bounce processor takes. */
export interface DsnStore {
  /** Claims recipients whose DSN is pending (atomically: concurrent claimers get disjoint sets). */
  claimDsns(claim: DsnClaim): Promise<DsnWork[]>;
  /** Marks claimed recipients' DSN as sent or skipped. */
  finishDsns(recipientIds: number[], state: "sent" | "skipped"): Promise<void>;
  /** Returns claims whose token starts with `tokenPrefix` (a claimer that died) to pending. */
  releaseDsnClaims(tokenPrefix: string): Promise<number>;
}

/**
 * In one transaction: outside one, SQLite's write waited for the lock inside the call (its busy
 * handler sleeps, and the thread with it: delivery's), where BEGIN waits on a timer
 * (sqlite_dialect.ts); and the claim and its reads commit once.
 */
async function claimDsns(ctx: SqlContext, claim: DsnClaim): Promise<DsnWork[]> {
  if (claim.messageIds?.length === 0) return [];
  return await ctx.transaction(async (db) => {
    let select = db.selectFrom("recipients").select("id").where("dsn", "=", "pending");
    if (claim.messageIds) select = select.where("message_id", "in", claim.messageIds);
    const ids = (await ctx.limit(select.orderBy("id"), claim.limit).execute())
      .map((r) => Number(r.id));
    if (ids.length === 0) return [];
    // `dsn = 'pending'` in the update makes the claim atomic per row without row locks.
    await db.updateTable("recipients").set({ dsn: claim.token })
      .where("id", "in", ids).where("dsn", "=", "pending").execute();
    return await claimedWork(db, claim.token);
  });
}

/** The recipients claimed with `token`, grouped by message, with what each report needs. */
async function claimedWork(db: Kysely<Tables>, token: string): Promise<DsnWork[]> {
  const recipients = await db.selectFrom("recipients")
    .select([
      "id",
      "message_id",
      "address",
      "state",
      "last_code",
      "last_reply",
      "category",
      "updated_at",
    ])
    .where("dsn", "=", token).orderBy("id").execute();
  if (recipients.length === 0) return [];
  const messageIds = [...new Set(recipients.map((r) => r.message_id))];
  const messages = await db.selectFrom("messages")
    .select(["id", "sender", "channel", "created_at", "meta"])
    .where("id", "in", messageIds).execute();
  // The last attempt that reached a server names the Remote-MTA.
  const attempts = await db.selectFrom("attempts")
    .select(["message_id", "recipient", "mx_host", "remote_ip"])
    .where("message_id", "in", messageIds).where("mx_host", "is not", null)
    .orderBy("id").execute();
  const lastHost = new Map<string, { mx_host: string | null; remote_ip: string | null }>();
  for (const a of attempts) lastHost.set(`${a.message_id}\u0000${a.recipient}`, a);
  const work = new Map<string, DsnWork>();
  for (const m of messages) {
    let meta: Record<string, unknown> | null = null;
    try {
      meta = m.meta ? JSON.parse(m.meta) : null;
    } catch {
      meta = null;
    }
    work.set(m.id, {
      messageId: m.id,
      sender: m.sender,
      channel: m.channel,
      createdAt: Number(m.created_at),
      meta,
      recipients: [],
    });
  }
  for (const r of recipients) {
    const host = lastHost.get(`${r.message_id}\u0000${r.address}`);
    work.get(r.message_id)?.recipients.push({
      id: Number(r.id),
      address: r.address,
      state: r.state,
      code: r.last_code === null ? null : Number(r.last_code),
      reply: r.last_reply,
      category: r.category,
      updatedAt: Number(r.updated_at),
      mxHost: host?.mx_host ?? null,
      remoteIp: host?.remote_ip ?? null,
    });
  }
  return [...work.values()].filter((w) => w.recipients.length > 0);
}

/** In one transaction, as claimDsns. */
async function finishDsns(
  ctx: SqlContext,
  recipientIds: number[],
  state: "sent" | "skipped",
): Promise<void> {
  if (recipientIds.length === 0) return;
  await ctx.transaction(async (db) => {
    for (const part of chunks(recipientIds, LIST_CHUNK)) {
      await db.updateTable("recipients").set({ dsn: state }).where("id", "in", part).execute();
    }
  });
}

async function releaseDsnClaims({ db }: SqlContext, tokenPrefix: string): Promise<number> {
  // LIKE narrows the search; startsWith makes it exact ("_" and "%" are LIKE wildcards).
  const rows = await db.selectFrom("recipients").select(["id", "dsn"])
    .where("dsn", "like", `${tokenPrefix}%`).execute();
  const ids = rows.filter((r) => r.dsn?.startsWith(tokenPrefix)).map((r) => Number(r.id));
  for (const part of chunks(ids, LIST_CHUNK)) {
    await db.updateTable("recipients").set({ dsn: "pending" }).where("id", "in", part)
      .execute();
  }
  return ids.length;
}

/** The DSN claims on one database. */
export function dsnRepository(ctx: SqlContext): DsnStore {
  return {
    claimDsns: (claim) => claimDsns(ctx, claim),
    finishDsns: (recipientIds, state) => finishDsns(ctx, recipientIds, state),
    releaseDsnClaims: (tokenPrefix) => releaseDsnClaims(ctx, tokenPrefix),
  };
}
