/**
 * The `outbox` table (migrations/0009_outbox.ts) on every SQL dialect: claiming rows safely when
 * several nodes poll one database, reading their payloads, and recording what became of them.
 *
 * Claims: one transaction selects the oldest claimable rows and marks them `claimed` by this
 * node. PostgreSQL and MySQL/MariaDB lock the selected rows `FOR UPDATE SKIP LOCKED`, so nodes
 * polling together take disjoint rows without waiting for each other; SQL Server does the same
 * with `updlock, readpast`; SQLite's write transaction (BEGIN IMMEDIATE) lets one claimer in at a
 * time. A `claimed` row whose claim is older than the timeout is claimable again: its node died
 * (or lost the database) between claiming and marking it.
 */
import { type CompiledQuery, type Kysely, sql } from "kysely";
import type { Dialect } from "../../migrations/mod.ts";
import { chunks, type SqlContext } from "./_sql.ts";
import { caseUpdateQuery } from "./batch_update.ts";
import type { Tables } from "./tables.ts";

export type { OutboxState } from "./tables.ts";

/** A claimed row: its id and payload size in bytes (so payloads can be read in bounded groups). */
export interface OutboxClaim {
  id: number;
  size: number;
}

/** What became of claimed rows, written in one transaction. */
export interface OutboxOutcomes {
  /** Durably accepted, with the queue id. */
  accepted: { id: number; messageId: string }[];
  /** Refused for good, with the reason. */
  failed: { id: number; error: string }[];
  /** Not accepted for a temporary reason: `new` again, for the next poll. */
  released: number[];
}

/** A request to claim outbox rows (see `OutboxStore.claimOutbox`). */
export interface OutboxClaimRequest {
  node: string;
  now: number;
  limit: number;
  staleBefore: number;
}

/** What the outbox poller (core/inbound/outbox.ts) takes. */
export interface OutboxStore {
  /**
   * Claims up to `limit` rows for `node`: stale claims first (they are the oldest work), then
   * `new` rows in id order.
   */
  claimOutbox(request: OutboxClaimRequest): Promise<OutboxClaim[]>;
  /** The payloads of these rows as bytes, by id (an application may have stored a blob). */
  outboxPayloads(ids: number[]): Promise<Map<number, Uint8Array>>;
  /** Records accepted, failed and released rows in one transaction. */
  finishOutbox(outcomes: OutboxOutcomes, now: number): Promise<void>;
  /**
   * Deletes up to `limit` `accepted` rows finished before `before`, oldest ids first; returns
   * how many. Reads the head of the `accepted` range of outbox_state_id rather than searching
   * by `finished_at`, which has no index: ids are taken in order, so the oldest finish first
   * (a row that finished late only delays the rows behind it to a later prune).
   */
  pruneOutbox(before: number, limit: number): Promise<number>;
}

/** Longest `error` stored (a reason is a line, but a recipient address in it is the sender's). */
const MAX_ERROR_LENGTH = 1_000;
/** Rows per UPDATE (SQL Server binds at most 2 100 parameters; CASE updates take 3 a row). */
const UPDATE_ROWS = 200;

/**
 * The oldest rows in `state` (and, for `claimed`, claimed before `staleBefore`), with their
 * payload sizes, locked so that concurrent claimers skip them.
 */
function claimableQuery(
  db: Kysely<Tables>,
  dialect: Dialect,
  limit: number,
  state: "new" | "claimed",
  staleBefore: number,
): CompiledQuery<{ id: number | string; size: number | string | null }> {
  const stale = state === "claimed";
  if (dialect === "mssql") {
    return sql<
      { id: number; size: number }
    >`select top (${limit}) "id", datalength("payload") as "size" from "outbox" with (updlock, readpast, rowlock) where "state" = ${state}${
      stale ? sql` and "claimed_at" < ${staleBefore}` : sql.raw("")
    } order by "id"`.compile(db);
  }
  // Bytes, not characters (SQLite's length() of text counts characters).
  const size = dialect === "sqlite3"
    ? sql<number>`length(cast(${sql.ref("payload")} as blob))`
    : sql<number>`octet_length(${sql.ref("payload")})`;
  let select = db.selectFrom("outbox").select(["id", size.as("size")])
    .where("state", "=", state).orderBy("id").limit(limit);
  if (stale) select = select.where("claimed_at", "<", staleBefore);
  if (dialect === "postgres" || dialect === "mysql") select = select.forUpdate().skipLocked();
  return select.compile();
}

async function claimOutbox(ctx: SqlContext, request: OutboxClaimRequest): Promise<OutboxClaim[]> {
  const { node, now, limit, staleBefore } = request;
  return await ctx.db.transaction().execute(async (trx) => {
    const stale = await trx.executeQuery(
      claimableQuery(trx, ctx.dialect, limit, "claimed", staleBefore),
    );
    const rows = [...stale.rows];
    if (rows.length < limit) {
      const fresh = await trx.executeQuery(
        claimableQuery(trx, ctx.dialect, limit - rows.length, "new", staleBefore),
      );
      rows.push(...fresh.rows);
    }
    const claims = rows.map((r) => ({ id: Number(r.id), size: Number(r.size ?? 0) }));
    for (const part of chunks(claims.map((c) => c.id), UPDATE_ROWS)) {
      await trx.updateTable("outbox")
        .set({ state: "claimed", claimed_by: node, claimed_at: now })
        .where("id", "in", part).execute();
    }
    return claims;
  });
}

async function outboxPayloads({ db }: SqlContext, ids: number[]): Promise<Map<number, Uint8Array>> {
  const rows = await db.selectFrom("outbox").select(["id", "payload"])
    .where("id", "in", ids).execute();
  const encoder = new TextEncoder();
  return new Map(rows.map((r) => {
    const payload: unknown = r.payload;
    return [
      Number(r.id),
      payload instanceof Uint8Array ? payload : encoder.encode(String(payload)),
    ];
  }));
}

async function finishOutbox(ctx: SqlContext, outcomes: OutboxOutcomes, now: number): Promise<void> {
  const { accepted, failed, released } = outcomes;
  if (accepted.length + failed.length + released.length === 0) return;
  await ctx.db.transaction().execute(async (trx) => {
    for (const part of chunks(accepted, UPDATE_ROWS)) {
      await trx.executeQuery(caseUpdateQuery(
        ctx.dialect,
        "outbox",
        "id",
        part.map((r) => ({ key: r.id, values: { message_id: r.messageId } })),
        {
          constants: { state: "accepted", error: null, finished_at: now },
          types: { finished_at: "bigint" },
        },
      ));
    }
    for (const part of chunks(failed, UPDATE_ROWS)) {
      await trx.executeQuery(caseUpdateQuery(
        ctx.dialect,
        "outbox",
        "id",
        part.map((r) => ({ key: r.id, values: { error: r.error.slice(0, MAX_ERROR_LENGTH) } })),
        { constants: { state: "failed", finished_at: now }, types: { finished_at: "bigint" } },
      ));
    }
    for (const part of chunks(released, UPDATE_ROWS)) {
      await trx.updateTable("outbox")
        .set({ state: "new", claimed_by: null, claimed_at: null })
        .where("id", "in", part).where("state", "=", "claimed").execute();
    }
  });
}

async function pruneOutbox(ctx: SqlContext, before: number, limit: number): Promise<number> {
  const query = ctx.db.selectFrom("outbox").select(["id", "finished_at"])
    .where("state", "=", "accepted").orderBy("id");
  const rows = await ctx.limit(query, limit).execute();
  const old = rows.filter((r) => Number(r.finished_at ?? 0) < before).map((r) => Number(r.id));
  for (const part of chunks(old, UPDATE_ROWS)) {
    await ctx.db.deleteFrom("outbox").where("id", "in", part).execute();
  }
  return old.length;
}

/** The outbox table on one database. */
export function outboxRepository(ctx: SqlContext): OutboxStore {
  return {
    claimOutbox: (request) => claimOutbox(ctx, request),
    outboxPayloads: (ids) => outboxPayloads(ctx, ids),
    finishOutbox: (outcomes, now) => finishOutbox(ctx, outcomes, now),
    pruneOutbox: (before, limit) => pruneOutbox(ctx, before, limit),
  };
}
