/**
 * "Delayed" DSNs (RFC 3464 Action: delayed): recipients still waiting `after` their message
 * arrived are claimed atomically per row (like DSN claims), reported once, and marked
 * `delay_dsn = 'sent'` (or 'skipped'), so each recipient gets at most one such notice.
 */
import { chunks, LIST_CHUNK, type SqlContext } from "./_sql.ts";

/** One message's recipients claimed for a "delayed" notice. */
export interface DelayedWork {
  messageId: string;
  sender: string;
  channel: string;
  createdAt: number;
  meta: Record<string, unknown> | null;
  recipients: {
    id: number;
    address: string;
    code: number | null;
    reply: string | null;
    category: string | null;
    updatedAt: number;
  }[];
}

/** What the delayed-DSN sweep takes. */
export interface DelayDsnStore {
  /** Claims recipients still deferred whose message arrived before `arrivedBefore`. */
  claimDelayed(token: string, arrivedBefore: number, limit: number): Promise<DelayedWork[]>;
  /** Marks claimed recipients' notice as sent or skipped. */
  finishDelayed(recipientIds: number[], state: "sent" | "skipped"): Promise<void>;
  /** Returns claims whose token starts with `tokenPrefix` to unclaimed. */
  releaseDelayedClaims(tokenPrefix: string): Promise<number>;
}

async function claimDelayed(
  ctx: SqlContext,
  token: string,
  arrivedBefore: number,
  limit: number,
): Promise<DelayedWork[]> {
  const { db } = ctx;
  const due = db.selectFrom("recipients")
    .innerJoin("messages", "messages.id", "recipients.message_id")
    .select("recipients.id")
    .where("recipients.state", "=", "deferred").where("recipients.delay_dsn", "is", null)
    .where("messages.created_at", "<", arrivedBefore).orderBy("recipients.id");
  const ids = (await ctx.limit(due, limit).execute()).map((r) => Number(r.id));
  if (ids.length === 0) return [];
  await db.updateTable("recipients").set({ delay_dsn: token })
    .where("id", "in", ids).where("delay_dsn", "is", null).execute();
  const rows = await db.selectFrom("recipients")
    .select(["id", "message_id", "address", "last_code", "last_reply", "category", "updated_at"])
    .where("delay_dsn", "=", token).orderBy("id").execute();
  if (rows.length === 0) return [];
  const messages = await db.selectFrom("messages")
    .select(["id", "sender", "channel", "created_at", "meta"])
    .where("id", "in", [...new Set(rows.map((r) => r.message_id))]).execute();
  const work = new Map<string, DelayedWork>();
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
  for (const r of rows) {
    work.get(r.message_id)?.recipients.push({
      id: Number(r.id),
      address: r.address,
      code: r.last_code === null ? null : Number(r.last_code),
      reply: r.last_reply,
      category: r.category,
      updatedAt: Number(r.updated_at),
    });
  }
  return [...work.values()].filter((w) => w.recipients.length > 0);
}

async function finishDelayed(ctx: SqlContext, ids: number[], state: "sent" | "skipped") {
  for (const part of chunks(ids, LIST_CHUNK)) {
    await ctx.db.updateTable("recipients").set({ delay_dsn: state }).where("id", "in", part)
      .execute();
  }
}

async function releaseDelayedClaims(ctx: SqlContext, tokenPrefix: string): Promise<number> {
  const rows = await ctx.db.selectFrom("recipients").select(["id", "delay_dsn"])
    .where("delay_dsn", "like", `${tokenPrefix}%`).execute();
  const ids = rows.filter((r) => r.delay_dsn?.startsWith(tokenPrefix)).map((r) => Number(r.id));
  for (const part of chunks(ids, LIST_CHUNK)) {
    await ctx.db.updateTable("recipients").set({ delay_dsn: null }).where("id", "in", part)
      .execute();
  }
  return ids.length;
}

/** Delayed-DSN claims on one database. */
export function delayDsnRepository(ctx: SqlContext): DelayDsnStore {
  return {
    claimDelayed: (token, before, limit) => claimDelayed(ctx, token, before, limit),
    finishDelayed: (ids, state) => finishDelayed(ctx, ids, state),
    releaseDelayedClaims: (prefix) => releaseDelayedClaims(ctx, prefix),
  };
}
