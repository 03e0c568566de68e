/**
 * Searching delivery units (message × domain) by what an operator knows: ids, sender,
 * recipient, domain, pool, the source IP of an attempt (a vmta), tag, state, age and the last
 * reply. Every field has an index (migrations/0014_queue_ops.ts; the reply's code and enhanced
 * status 0018) but free text in the reply, and pages
 * are keyset pages on the unit id (`id > after order by id`), so a page costs the same on the
 * millionth unit as on the first and a bulk job never holds more than one page of ids.
 */
import { type Expression, type ExpressionBuilder, type SelectQueryBuilder, sql } from "kysely";
import type { SqlContext } from "./_sql.ts";
import { replyStatusQuery } from "./reply_status.ts";
import type { Tables } from "./tables.ts";

/** Where a unit stands, as search tells them apart. */
export type UnitSearchState = "queued" | "deferred" | "paused" | "quarantined" | "done";
export const UNIT_SEARCH_STATES: readonly UnitSearchState[] = [
  "queued",
  "deferred",
  "paused",
  "quarantined",
  "done",
];

/** A unit filter; every field that is set must match. */
export interface UnitFilter {
  unitIds?: string[];
  messageId?: string;
  sender?: string;
  recipient?: string;
  domain?: string;
  pool?: string;
  /** Units with an attempt from this source IP (a vmta's address). */
  sourceIp?: string;
  tag?: string;
  state?: UnitSearchState;
  /** Messages accepted at or before this time (ms; the unit's `created_at`, set at accept). */
  createdBefore?: number;
  /** Messages accepted at or after this time (ms). */
  createdAfter?: number;
  /**
   * The last reply: a code and/or enhanced status ("451", "4.7.1", "451 4.7.1") matches the
   * indexed columns; other text is a substring of the reply (a scan: combine it).
   */
  reply?: string;
  /** The last reply starts with this (held units say what holds them there). */
  replyPrefix?: string;
  /** Messages sent with this API key (its name; a sender key's own search). */
  apiKey?: string;
}

/** One unit as search shows it. */
export interface UnitRow {
  id: string;
  message_id: string;
  domain: string;
  sender: string;
  state: "queued" | "done" | "quarantined";
  attempts: number;
  due_at: number;
  created_at: number;
  held: string | null;
  last_reply: string | null;
  failure_reason: string | null;
  pool: string | null;
  tag: string | null;
}

/** Searching units (the store role). */
export interface QueueSearchStore {
  /** Up to `limit` units matching `filter` with an id after `after`, by id. */
  searchUnits(filter: UnitFilter, page: { after?: string; limit: number }): Promise<UnitRow[]>;
  /** How many units match `filter` (the preview of a bulk action). */
  countUnits(filter: UnitFilter): Promise<number>;
  /**
   * The database's plan for the first page of `filter` (EXPLAIN; SQLite: EXPLAIN QUERY PLAN),
   * one line per step, for docs and benchmarks; `analyze` first refreshes the statistics (as
   * autovacuum does on a live PostgreSQL).
   */
  explainSearch(filter: UnitFilter, options?: { analyze?: boolean }): Promise<string[]>;
}

type UnitQuery<O> = SelectQueryBuilder<Tables, "queue" | "messages", O>;

/** LIKE patterns take `%` and `_` literally (escaped with `!`). */
function likeText(text: string): string {
  return text.replace(/[!%_]/g, (c) => `!${c}`);
}

function stateCondition(
  eb: ExpressionBuilder<Tables, "queue" | "messages">,
  s: UnitSearchState,
  state: Expression<string>,
  held: Expression<string | null>,
) {
  switch (s) {
    case "queued":
      return eb.and([
        eb(state, "=", "queued"),
        eb(held, "is", null),
        eb("queue.attempts", "=", 0),
      ]);
    case "deferred":
      return eb.and([
        eb(state, "=", "queued"),
        eb(held, "is", null),
        eb("queue.attempts", ">", 0),
      ]);
    case "paused":
      return eb.and([eb(state, "=", "queued"), eb(held, "is not", null)]);
    case "quarantined":
      return eb(state, "=", "quarantined");
    case "done":
      return eb(state, "=", "done");
  }
}

/** `query` narrowed by every field of `filter`. */
export function filtered<O>(
  ctx: SqlContext,
  query: UnitQuery<O>,
  filter: UnitFilter,
): UnitQuery<O> {
  const { db } = ctx;
  let q = query;
  if (filter.unitIds) q = q.where("queue.id", "in", filter.unitIds.length ? filter.unitIds : [""]);
  if (filter.messageId !== undefined) q = q.where("queue.message_id", "=", filter.messageId);
  if (filter.domain !== undefined) q = q.where("queue.domain", "=", filter.domain.toLowerCase());
  if (filter.sender !== undefined) q = q.where("messages.sender", "=", filter.sender);
  if (filter.pool !== undefined) q = q.where("messages.pool", "=", filter.pool);
  if (filter.tag !== undefined) q = q.where("messages.tag", "=", filter.tag);
  if (filter.apiKey !== undefined) q = q.where("messages.api_key", "=", filter.apiKey);
  if (filter.createdBefore !== undefined) {
    q = q.where("queue.created_at", "<=", filter.createdBefore);
  }
  if (filter.createdAfter !== undefined) {
    q = q.where("queue.created_at", ">=", filter.createdAfter);
  }
  if (filter.recipient !== undefined) {
    const recipient = filter.recipient;
    q = q.where(
      "queue.id",
      "in",
      db.selectFrom("recipients").select("unit_id").where("address", "=", recipient),
    );
  }
  if (filter.sourceIp !== undefined) {
    const ip = filter.sourceIp;
    q = q.where(
      "queue.id",
      "in",
      db.selectFrom("attempts").select("unit_id").where("source_ip", "=", ip),
    );
  }
  if (filter.state !== undefined) {
    const wanted = filter.state;
    // SQLite (no statistics) would read a domain's or a message's units through the state
    // index, which gives the id order, instead of the far narrower domain or message index
    // (measured: 187 ms instead of a few on 1 000 000 units); unary + takes state and held off their indexes.
    const narrower = filter.domain !== undefined || filter.messageId !== undefined ||
      filter.unitIds !== undefined || filter.recipient !== undefined;
    const column = <T>(name: "queue.state" | "queue.held") =>
      ctx.dialect === "sqlite3" && narrower ? sql<T>`+${sql.ref(name)}` : sql<T>`${sql.ref(name)}`;
    q = q.where((eb) =>
      stateCondition(eb, wanted, column<string>("queue.state"), column<string | null>("queue.held"))
    );
  }
  if (filter.reply !== undefined) {
    // A code or enhanced status reads its index (core/store/reply_status.ts); other text scans.
    const status = replyStatusQuery(filter.reply);
    if (status) {
      if (status.code !== null) q = q.where("queue.reply_code", "=", status.code);
      if (status.status !== null) q = q.where("queue.reply_status", "=", status.status);
    } else {
      const pattern = `%${likeText(filter.reply)}%`;
      q = q.where(sql<boolean>`${sql.ref("queue.last_reply")} like ${pattern} escape '!'`);
    }
  }
  if (filter.replyPrefix !== undefined) {
    const pattern = `${likeText(filter.replyPrefix)}%`;
    q = q.where(sql<boolean>`${sql.ref("queue.last_reply")} like ${pattern} escape '!'`);
  }
  return q;
}

function unitsQuery(ctx: SqlContext) {
  return ctx.db.selectFrom("queue").innerJoin("messages", "messages.id", "queue.message_id");
}

async function searchUnits(
  ctx: SqlContext,
  filter: UnitFilter,
  page: { after?: string; limit: number },
): Promise<UnitRow[]> {
  let q = filtered(
    ctx,
    unitsQuery(ctx).select([
      "queue.id as id",
      "queue.message_id as message_id",
      "queue.domain as domain",
      "messages.sender as sender",
      "queue.state as state",
      "queue.attempts as attempts",
      "queue.due_at as due_at",
      "messages.created_at as created_at",
      "queue.held as held",
      "queue.last_reply as last_reply",
      "queue.failure_reason as failure_reason",
      "messages.pool as pool",
      "messages.tag as tag",
    ]),
    filter,
  );
  if (page.after !== undefined) q = q.where("queue.id", ">", page.after);
  const rows = await ctx.limit(q.orderBy("queue.id"), page.limit).execute();
  return rows.map((r) => ({
    ...r,
    attempts: Number(r.attempts),
    due_at: Number(r.due_at),
    created_at: Number(r.created_at),
  }));
}

/**
 * Ids of the messages with a unit matching `filter`, newest first, before `before`: the
 * messages list's search (`GET /api/v1/messages?…`), a keyset page on the message id.
 */
export async function searchMessageIds(
  ctx: SqlContext,
  filter: UnitFilter,
  page: { before?: string; limit: number },
): Promise<string[]> {
  let q = filtered(ctx, unitsQuery(ctx).select("queue.message_id as id"), filter)
    .where("messages.unconfirmed_since", "is", null);
  if (page.before !== undefined) q = q.where("queue.message_id", "<", page.before);
  const rows = await ctx.limit(
    q.groupBy("queue.message_id").orderBy("queue.message_id", "desc"),
    page.limit,
  ).execute();
  return rows.map((r) => r.id);
}

async function countUnits(ctx: SqlContext, filter: UnitFilter): Promise<number> {
  const q = filtered(ctx, unitsQuery(ctx).select((eb) => eb.fn.countAll<number>().as("n")), filter);
  const row = await q.executeTakeFirst();
  return Number(row?.n ?? 0);
}

async function explainSearch(
  ctx: SqlContext,
  filter: UnitFilter,
  options: { analyze?: boolean },
): Promise<string[]> {
  // SQLite: a fastmta database never runs ANALYZE, so its plans are shown without statistics.
  if (options.analyze && ctx.dialect !== "sqlite3") await sql`analyze`.execute(ctx.db);
  const query = ctx.limit(
    filtered(ctx, unitsQuery(ctx).select("queue.id"), filter).orderBy("queue.id"),
    101,
  ).compile();
  const prefix = ctx.dialect === "sqlite3" ? "explain query plan " : "explain ";
  const { rows } = await ctx.db.executeQuery<Record<string, unknown>>(
    {
      ...query,
      sql: prefix + query.sql,
    } as typeof query & { sql: string },
  );
  return rows.map((r) => String(r.detail ?? r["QUERY PLAN"] ?? JSON.stringify(r)));
}

/** The search role on one database. */
export function queueSearchRepository(ctx: SqlContext): QueueSearchStore {
  return {
    searchUnits: (filter, page) => searchUnits(ctx, filter, page),
    countUnits: (filter) => countUnits(ctx, filter),
    explainSearch: (filter, options = {}) => explainSearch(ctx, filter, options),
  };
}
