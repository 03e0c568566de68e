/**
 * Read-only views for the console, the API and the CLI: queue counts, one message's
 * recipients and attempts, the message list, the delivery log, and deliveries per source IP.
 */
import type { ExpressionBuilder } from "kysely";
import type { SqlContext } from "./_sql.ts";
import { searchMessageIds, type UnitFilter } from "./queue_search.ts";
import { terminalTotals } from "./recipient_totals.ts";
import type { RecipientState, Tables } from "./tables.ts";

/** Recipient counts by state, plus units currently leased. */
export type QueueCounts = Record<RecipientState, number> & { in_flight_units: number };

/** One message with its recipients and delivery log. */
export interface MessageStatus {
  id: string;
  sender: string;
  createdAt: number;
  size: number;
  channel: string;
  /** The REST API key that sent it (its name, from the message's meta), else null. */
  apiKey: string | null;
  recipients: {
    address: string;
    state: RecipientState;
    attempts: number;
    last_code: number | null;
    last_reply: string | null;
  }[];
  attempts: {
    at: number;
    recipient: string;
    outcome: string;
    code: number | null;
    reply: string | null;
    source_ip: string | null;
    mx_host: string | null;
    remote_ip: string | null;
    tls: number;
    tls_version: string | null;
    tls_verified: number;
    duration_ms: number;
    reason: string | null;
    site: string | null;
    pool: string | null;
    node_id: string | null;
  }[];
}

/** One row of the message list. */
export interface MessageSummary {
  id: string;
  sender: string;
  createdAt: number;
  size: number;
  recipients: number;
  /** Recipients not yet delivered or failed. */
  pending: number;
  failed: number;
}

/** One row of the delivery log. */
export interface AttemptRow {
  at: number;
  messageId: string;
  recipient: string;
  outcome: string;
  code: number | null;
  reply: string | null;
  sourceIp: string | null;
  mxHost: string | null;
  durationMs: number;
}

/** What the console, the API and status commands read. */
export interface ViewStore {
  /** Recipient counts by state. */
  counts(now: number): Promise<QueueCounts>;
  /** A message's recipients and attempts, or null if unknown. */
  messageStatus(messageId: string): Promise<MessageStatus | null>;
  /** Newest messages first; `before` (a message id) pages backwards. */
  /**
   * Messages newest first, before the id `before`; with `filter`, only those with a unit it
   * matches (core/store/queue_search.ts).
   */
  listMessages(options: ListMessagesOptions): Promise<MessageSummary[]>;
  /** Newest delivery attempts first. */
  recentAttempts(options: { limit: number }): Promise<AttemptRow[]>;
  /** Messages delivered per source IP since `since` (seeds the daily caps of IP warm-up). */
  deliveredSince(since: number): Promise<{ sourceIp: string; count: number }[]>;
}

/**
 * Open states are counted live through `recipients_state` (only their part of it is read);
 * terminal ones come from the totals kept by every writer (recipient_totals.ts, 0024).
 */
async function counts({ db }: SqlContext, now: number): Promise<QueueCounts> {
  // One count per state rather than `IN (…) GROUP BY`: half the time on SQLite (34 ms against
  // 66 ms for 980 000 queued) and less on MariaDB (bench/queue_counts.ts BENCH_PARTS=1).
  const countOf = (eb: ExpressionBuilder<Tables, never>, state: RecipientState) =>
    eb.selectFrom("recipients").select((e) => e.fn.countAll<number>().as("n"))
      .where("state", "=", state);
  const open = await db.selectNoFrom((eb) => [
    countOf(eb, "queued").as("queued"),
    countOf(eb, "deferred").as("deferred"),
  ]).executeTakeFirst();
  const totals = await terminalTotals(db);
  const inFlight = await db.selectFrom("queue")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("state", "=", "queued").where("lease_owner", "is not", null)
    .where("due_at", ">", now).executeTakeFirst();
  // Messages the broker has not confirmed (yet, or ever: see core/queue/rabbitmq.ts) are not
  // queued from anyone's point of view. Few rows, found through `messages_unconfirmed`; as a
  // join SQLite walked all of recipients_state instead (450 ms at 1M), hence the IN.
  const unconfirmed = await db.selectFrom("recipients")
    .select((eb) => ["state", eb.fn.countAll<number>().as("n")])
    .where(
      "message_id",
      "in",
      (eb) =>
        eb.selectFrom("messages").select("messages.id")
          .where("messages.unconfirmed_since", "is not", null),
    )
    .groupBy("state").execute();
  const result: QueueCounts = {
    queued: Number(open?.queued ?? 0),
    deferred: Number(open?.deferred ?? 0),
    ...totals,
    in_flight_units: Number(inFlight?.n ?? 0),
  };
  for (const row of unconfirmed) {
    result[row.state] = Math.max(0, result[row.state] - Number(row.n));
  }
  return result;
}

/** The sending key recorded in a message's meta (core/inbound/api.ts), or null. */
function apiKeyOf(meta: string | null): string | null {
  if (meta === null) return null;
  try {
    const key = (JSON.parse(meta) as { api_key?: unknown }).api_key;
    return typeof key === "string" ? key : null;
  } catch {
    return null;
  }
}

async function messageStatus(
  { db }: SqlContext,
  messageId: string,
): Promise<MessageStatus | null> {
  const message = await db.selectFrom("messages")
    .select(["id", "sender", "created_at", "size", "channel", "meta"])
    .where("id", "=", messageId).executeTakeFirst();
  if (!message) return null;
  const recipients = await db.selectFrom("recipients")
    .select(["address", "state", "attempts", "last_code", "last_reply"])
    .where("message_id", "=", messageId).orderBy("id").execute();
  const attempts = await db.selectFrom("attempts")
    .select([
      "at",
      "recipient",
      "outcome",
      "code",
      "reply",
      "source_ip",
      "mx_host",
      "remote_ip",
      "tls",
      "tls_version",
      "tls_verified",
      "duration_ms",
      "reason",
      "site",
      "pool",
      "node_id",
    ])
    .where("message_id", "=", messageId).orderBy("id").execute();
  return {
    id: message.id,
    sender: message.sender,
    createdAt: Number(message.created_at),
    size: Number(message.size),
    channel: message.channel,
    apiKey: apiKeyOf(message.meta),
    recipients: recipients.map((r) => ({ ...r, attempts: Number(r.attempts) })),
    attempts: attempts.map((a) => ({
      ...a,
      at: Number(a.at),
      tls: Number(a.tls),
      tls_verified: Number(a.tls_verified),
      duration_ms: Number(a.duration_ms),
    })),
  };
}

/** A page of the messages list. */
export interface ListMessagesOptions {
  limit: number;
  before?: string;
  filter?: UnitFilter;
}

async function listMessages(
  ctx: SqlContext,
  options: ListMessagesOptions,
): Promise<MessageSummary[]> {
  let query = ctx.db.selectFrom("messages")
    .select(["id", "sender", "created_at", "size", "recipient_count"])
    .where("unconfirmed_since", "is", null) // not accepted (yet): see core/queue/rabbitmq.ts
    .orderBy("id", "desc");
  if (options.filter && Object.keys(options.filter).length > 0) {
    // The filter picks the page's ids through the search indexes; the rows follow by key.
    const ids = await searchMessageIds(ctx, options.filter, options);
    if (ids.length === 0) return [];
    query = query.where("id", "in", ids);
  } else {
    query = ctx.limit(query, options.limit);
    if (options.before) query = query.where("id", "<", options.before);
  }
  const messages = await query.execute();
  if (messages.length === 0) return [];
  const states = await ctx.db.selectFrom("recipients")
    .select((eb) => ["message_id", "state", eb.fn.countAll<number>().as("n")])
    .where("message_id", "in", messages.map((m) => m.id))
    .groupBy(["message_id", "state"]).execute();
  return messages.map((m) => {
    let pending = 0;
    let failed = 0;
    for (const s of states) {
      if (s.message_id !== m.id) continue;
      if (s.state === "queued" || s.state === "deferred") pending += Number(s.n);
      if (s.state === "failed" || s.state === "suppressed" || s.state === "bounced") {
        failed += Number(s.n);
      }
    }
    return {
      id: m.id,
      sender: m.sender,
      createdAt: Number(m.created_at),
      size: Number(m.size),
      recipients: Number(m.recipient_count),
      pending,
      failed,
    };
  });
}

async function recentAttempts(
  ctx: SqlContext,
  options: { limit: number },
): Promise<AttemptRow[]> {
  const query = ctx.db.selectFrom("attempts")
    .select([
      "at",
      "message_id",
      "recipient",
      "outcome",
      "code",
      "reply",
      "source_ip",
      "mx_host",
      "duration_ms",
    ])
    .orderBy("id", "desc");
  const rows = await ctx.limit(query, options.limit).execute();
  return rows.map((r) => ({
    at: Number(r.at),
    messageId: r.message_id,
    recipient: r.recipient,
    outcome: r.outcome,
    code: r.code === null ? null : Number(r.code),
    reply: r.reply,
    sourceIp: r.source_ip,
    mxHost: r.mx_host,
    durationMs: Number(r.duration_ms),
  }));
}

async function deliveredSince(
  { db }: SqlContext,
  since: number,
): Promise<{ sourceIp: string; count: number }[]> {
  const rows = await db.selectFrom("attempts")
    .select((eb) => ["source_ip", eb.fn.count<number>("unit_id").distinct().as("n")])
    .where("at", ">=", since).where("outcome", "=", "delivered")
    .where("source_ip", "is not", null)
    .groupBy("source_ip").execute();
  return rows.map((r) => ({ sourceIp: r.source_ip!, count: Number(r.n) }));
}

/** The views on one database. */
export function viewRepository(ctx: SqlContext): ViewStore {
  return {
    counts: (now) => counts(ctx, now),
    messageStatus: (messageId) => messageStatus(ctx, messageId),
    listMessages: (options) => listMessages(ctx, options),
    recentAttempts: (options) => recentAttempts(ctx, options),
    deliveredSince: (since) => deliveredSince(ctx, since),
  };
}
