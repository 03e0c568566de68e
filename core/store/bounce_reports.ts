/**
 * Asynchronous bounce reports: mail received for bounce/feedback domains is stored raw before
 * the SMTP 250, claimed atomically by one processor (like DSN claims), then finished with what
 * parsing found. Also the lookups and effects the processor needs: the original message and
 * its recipients, marking a delivered recipient bounced, and the reports shown on a message's
 * page. Reports are purged at `expires_at`.
 */
import { asBuffer, chunks, LIST_CHUNK, ownBytes, type SqlContext } from "./_sql.ts";
import { applyTotals, countMove, type TotalsDelta } from "./recipient_totals.ts";
import type { BounceReportsTable, RecipientState } from "./tables.ts";

/** A report as received (written before the 250). */
export interface NewBounceReport {
  id: string;
  receivedAt: number;
  clientIp: string | null;
  mailFrom: string;
  rcptTo: string[];
  raw: Uint8Array;
  expiresAt: number;
}

/** What processing found (all null when nothing was recognised). */
export interface BounceReportResult {
  state: "processed" | "refused";
  kind: string | null;
  messageId: string | null;
  recipient: string | null;
  category: string | null;
  status: string | null;
  detail: string | null;
  processedAt: number;
}

/** A stored report. */
export interface BounceReport extends NewBounceReport {
  state: string;
  kind: string | null;
  messageId: string | null;
  recipient: string | null;
  category: string | null;
  status: string | null;
  detail: string | null;
  processedAt: number | null;
}

/** An original message as a bounce report is matched against it. */
export interface BouncedMessage {
  id: string;
  sender: string;
  createdAt: number;
  recipients: { id: number; address: string; state: RecipientState }[];
}

/** What the bounce-report processor and the message page take. */
export interface BounceReportStore {
  /** Stores a received report durably (state "new"). */
  saveBounceReport(report: NewBounceReport): Promise<void>;
  /** Claims up to `limit` new reports (or only `ids`) for `token`; concurrent claimers get disjoint sets. */
  claimBounceReports(token: string, limit: number, ids?: string[]): Promise<BounceReport[]>;
  /** Records the outcome of processing one claimed report. */
  finishBounceReport(id: string, result: BounceReportResult): Promise<void>;
  /** Returns claims whose token starts with `tokenPrefix` to "new" (a processor that died). */
  releaseBounceReportClaims(tokenPrefix: string): Promise<number>;
  /** Reports matched to `messageId`, newest first (without the raw bytes' copy kept). */
  bounceReportsFor(messageId: string): Promise<BounceReport[]>;
  /** Deletes reports past their retention; returns how many. */
  purgeBounceReports(now: number): Promise<number>;
  /** The message and its recipients, or null when it is gone. */
  bouncedMessage(messageId: string): Promise<BouncedMessage | null>;
  /** Marks recipients (by row id) bounced after delivery, with the report's reply. */
  markRecipientsBounced(
    ids: number[],
    update: { reply: string; category: string; at: number },
  ): Promise<number>;
}

function reportOf(row: BounceReportsTable): BounceReport {
  let rcptTo: string[] = [];
  try {
    rcptTo = JSON.parse(row.rcpt_to);
  } catch {
    rcptTo = [];
  }
  return {
    id: row.id,
    receivedAt: Number(row.received_at),
    clientIp: row.client_ip,
    mailFrom: row.mail_from,
    rcptTo,
    raw: ownBytes(row.raw),
    expiresAt: Number(row.expires_at),
    state: row.state,
    kind: row.kind,
    messageId: row.message_id,
    recipient: row.recipient,
    category: row.category,
    status: row.status,
    detail: row.detail,
    processedAt: row.processed_at === null ? null : Number(row.processed_at),
  };
}

async function saveBounceReport(ctx: SqlContext, r: NewBounceReport): Promise<void> {
  await ctx.db.insertInto("bounce_reports").values({
    id: r.id,
    received_at: r.receivedAt,
    state: "new",
    client_ip: r.clientIp,
    mail_from: r.mailFrom,
    rcpt_to: JSON.stringify(r.rcptTo),
    raw: asBuffer(r.raw),
    kind: null,
    message_id: null,
    recipient: null,
    category: null,
    status: null,
    detail: null,
    processed_at: null,
    expires_at: r.expiresAt,
  }).execute();
}

async function claimBounceReports(
  ctx: SqlContext,
  token: string,
  limit: number,
  ids?: string[],
): Promise<BounceReport[]> {
  let select = ctx.db.selectFrom("bounce_reports").select("id").where("state", "=", "new");
  if (ids) {
    if (ids.length === 0) return [];
    select = select.where("id", "in", ids);
  }
  const found = (await ctx.limit(select.orderBy("id"), limit).execute()).map((r) => r.id);
  if (found.length === 0) return [];
  // `state = 'new'` in the update makes the claim atomic per row.
  await ctx.db.updateTable("bounce_reports").set({ state: token })
    .where("id", "in", found).where("state", "=", "new").execute();
  const rows = await ctx.db.selectFrom("bounce_reports").selectAll()
    .where("state", "=", token).orderBy("id").execute();
  return rows.map(reportOf);
}

async function finishBounceReport(
  ctx: SqlContext,
  id: string,
  r: BounceReportResult,
): Promise<void> {
  await ctx.db.updateTable("bounce_reports").set({
    state: r.state,
    kind: r.kind,
    message_id: r.messageId,
    recipient: r.recipient,
    category: r.category,
    status: r.status,
    detail: r.detail?.slice(0, 2000) ?? null,
    processed_at: r.processedAt,
  }).where("id", "=", id).execute();
}

async function releaseBounceReportClaims(ctx: SqlContext, tokenPrefix: string): Promise<number> {
  const rows = await ctx.db.selectFrom("bounce_reports").select(["id", "state"])
    .where("state", "like", `${tokenPrefix}%`).execute();
  const ids = rows.filter((r) => r.state.startsWith(tokenPrefix)).map((r) => r.id);
  for (const part of chunks(ids, LIST_CHUNK)) {
    await ctx.db.updateTable("bounce_reports").set({ state: "new" }).where("id", "in", part)
      .execute();
  }
  return ids.length;
}

async function bounceReportsFor(ctx: SqlContext, messageId: string): Promise<BounceReport[]> {
  const rows = await ctx.db.selectFrom("bounce_reports").selectAll()
    .where("message_id", "=", messageId).orderBy("received_at", "desc").execute();
  return rows.map(reportOf);
}

async function purgeBounceReports(ctx: SqlContext, now: number): Promise<number> {
  const result = await ctx.db.deleteFrom("bounce_reports").where("expires_at", "<=", now)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

async function bouncedMessage(ctx: SqlContext, messageId: string): Promise<BouncedMessage | null> {
  const message = await ctx.db.selectFrom("messages").select(["id", "sender", "created_at"])
    .where("id", "=", messageId).executeTakeFirst();
  if (!message) return null;
  const recipients = await ctx.db.selectFrom("recipients").select(["id", "address", "state"])
    .where("message_id", "=", messageId).orderBy("id").execute();
  return {
    id: message.id,
    sender: message.sender,
    createdAt: Number(message.created_at),
    recipients: recipients.map((r) => ({ id: Number(r.id), address: r.address, state: r.state })),
  };
}

async function markRecipientsBounced(
  ctx: SqlContext,
  ids: number[],
  update: { reply: string; category: string; at: number },
): Promise<number> {
  let changed = 0;
  for (const part of chunks(ids, LIST_CHUNK)) {
    // Only delivered recipients bounce asynchronously; anything else keeps its state.
    // The totals move in the same transaction (recipient_totals.ts, 0024).
    changed += await ctx.transaction(async (trx) => {
      const result = await trx.updateTable("recipients").set({
        state: "bounced",
        last_reply: update.reply.slice(0, 1000),
        category: update.category,
        updated_at: update.at,
      }).where("id", "in", part).where("state", "=", "delivered").executeTakeFirst();
      const n = Number(result.numUpdatedRows);
      const delta: TotalsDelta = new Map();
      countMove(delta, { from: "delivered", to: "bounced" }, n);
      await applyTotals(trx, delta);
      return n;
    });
  }
  return changed;
}

/** The bounce reports on one database. */
export function bounceReportRepository(ctx: SqlContext): BounceReportStore {
  return {
    saveBounceReport: (report) => saveBounceReport(ctx, report),
    claimBounceReports: (token, limit, ids) => claimBounceReports(ctx, token, limit, ids),
    finishBounceReport: (id, result) => finishBounceReport(ctx, id, result),
    releaseBounceReportClaims: (prefix) => releaseBounceReportClaims(ctx, prefix),
    bounceReportsFor: (messageId) => bounceReportsFor(ctx, messageId),
    purgeBounceReports: (now) => purgeBounceReports(ctx, now),
    bouncedMessage: (messageId) => bouncedMessage(ctx, messageId),
    markRecipientsBounced: (ids, update) => markRecipientsBounced(ctx, ids, update),
  };
}
