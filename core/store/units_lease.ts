/**
 * Leasing due delivery units (the embedded queue): one transaction picks the oldest due units,
 * locked so that concurrent leasers skip each other's rows, marks them leased and reads what
 * delivery needs (sender, meta, open recipients). Also giving back leases never attempted.
 */
import {
  type CompiledQuery,
  type ExpressionBuilder,
  type Kysely,
  sql,
  type Transaction,
} from "kysely";
import type { Dialect } from "../../migrations/mod.ts";
import { type LeasedUnit, parseMeta } from "../contracts/mod.ts";
import type { SqlContext } from "./_sql.ts";
import { CompiledOnce } from "./compiled_once.ts";
import { leasedUnitsSqlite, leaseUnitsSqlite } from "./sqlite_lease.ts";
import { unitRecipientsSqlite } from "./sqlite_settle.ts";
import { OPEN_RECIPIENT_STATES, type Tables } from "./tables.ts";

/** A request to lease due delivery units. */
export interface LeaseRequest {
  owner: string;
  token: string;
  now: number;
  leaseMs: number;
  limit: number;
}

/**
 * The query that picks due units to lease: the oldest `limit` queued units due by `now`, read
 * through the `queue_state_due` index and locked so that concurrent leasers (threads or nodes)
 * skip each other's rows. SQLite needs no row lock: its write transaction (BEGIN IMMEDIATE)
 * already serialises leasers. Exported so tests can EXPLAIN exactly this statement.
 */
export function dueUnitsQuery(
  db: Kysely<Tables>,
  dialect: Dialect,
  now: number,
  limit: number,
): CompiledQuery<{ id: string }> {
  if (dialect === "mssql") {
    // SQL Server has neither LIMIT nor FOR UPDATE: TOP plus table hints (READPAST skips rows
    // other transactions hold) do the same.
    return sql<
      { id: string }
    >`select top (${limit}) "id" from "queue" with (updlock, readpast, rowlock) where "state" = ${"queued"} and "due_at" <= ${now} order by "due_at"`
      .compile(db);
  }
  if (dialect === "sqlite3") return DUE_UNITS_SQLITE.compile(db, dialect, now, limit);
  let select = dueUnits(db, now, limit);
  if (dialect === "postgres" || dialect === "mysql") select = select.forUpdate().skipLocked();
  return select.compile();
}

function dueUnits(db: Kysely<Tables>, now: number, limit: number) {
  return db.selectFrom("queue").select("id")
    .where("state", "=", "queued").where("due_at", "<=", now)
    .orderBy("due_at").limit(limit);
}

/** The same text on SQLite, compiled once (compiled_once.ts). */
const DUE_UNITS_SQLITE = new CompiledOnce((db, _dialect, now: number, limit: number) =>
  dueUnits(db, now, limit)
);

/**
 * Every recipient of the given units, by `recipients_unit`. Callers keep the open ones (see
 * `loadUnits` for why the state is not a condition here). Exported so tests can EXPLAIN it.
 */
export function unitRecipientsQuery(
  db: Kysely<Tables>,
  unitIds: string[],
): CompiledQuery<{ unit_id: string; address: string; state: string }> {
  return db.selectFrom("recipients").select(["unit_id", "address", "state"])
    .where("unit_id", "in", unitIds).compile();
}

/** Claims up to `limit` due units for `leaseMs` (see `UnitStore.leaseDue`). */
export async function leaseDue(ctx: SqlContext, request: LeaseRequest): Promise<LeasedUnit[]> {
  const { owner, token, now, leaseMs, limit } = request;
  return await ctx.transaction(async (trx) => {
    const due = await trx.executeQuery(dueUnitsQuery(trx, ctx.dialect, now, limit));
    const ids = due.rows.map((r) => r.id);
    if (ids.length === 0) return [];
    if (ctx.dialect === "sqlite3") {
      // One fixed text whatever the batch (sqlite_lease.ts).
      await trx.executeQuery(leaseUnitsSqlite(ids, owner, token, now + leaseMs, now));
      return await loadUnits(trx, ids, token, true);
    }
    await trx.updateTable("queue")
      .set((eb) => ({
        lease_owner: owner,
        lease_token: token,
        due_at: now + leaseMs,
        attempts: eb("attempts", "+", 1),
        updated_at: now,
      }))
      .where("id", "in", ids).execute();
    return await loadUnits(trx, ids, token);
  });
}

/**
 * What delivery needs of the leased units `ids`; `sqlite`: by the fixed texts of
 * sqlite_lease.ts.
 */
export async function loadUnits(
  trx: Transaction<Tables>,
  ids: string[],
  token: string,
  sqlite = false,
): Promise<LeasedUnit[]> {
  const units = sqlite ? (await trx.executeQuery(leasedUnitsSqlite(ids))).rows : await trx
    .selectFrom("queue")
    .innerJoin("messages", "messages.id", "queue.message_id")
    .select([
      "queue.id as id",
      "queue.message_id as message_id",
      "queue.domain as domain",
      "queue.attempts as attempts",
      "messages.sender as sender",
      "messages.created_at as created_at",
      "messages.meta as meta",
    ])
    .where("queue.id", "in", ids).orderBy("queue.due_at").execute();
  // The open states are filtered here, not in SQL: given `state IN (…)` SQLite's planner
  // reads through recipients_state (every open recipient of the whole queue) instead of
  // recipients_unit, which made each lease cost grow with the queue (measured: 200 units
  // leased from 100 000 queued took 19 ms in this query, 1 ms without the state condition).
  const recipients = (await trx.executeQuery(
    sqlite ? unitRecipientsSqlite(ids) : unitRecipientsQuery(trx, ids),
  )).rows.filter((r) => OPEN_RECIPIENT_STATES.has(r.state));
  const byUnit = new Map<string, string[]>();
  for (const r of recipients) {
    let list = byUnit.get(r.unit_id);
    if (!list) byUnit.set(r.unit_id, list = []);
    list.push(r.address);
  }
  return units.map((u) => ({
    v: 1 as const,
    unitId: u.id,
    messageId: u.message_id,
    domain: u.domain,
    sender: u.sender,
    attempts: Number(u.attempts),
    createdAt: Number(u.created_at),
    leaseToken: token,
    recipients: byUnit.get(u.id) ?? [],
    meta: parseMeta(u.meta),
  }));
}

/** Units per UPDATE when returning leases. */
const RETURN_CHUNK = 500;

/**
 * Returns leased units of the embedded queue that were never attempted (the scheduler could
 * not hand them over, or they were left when the node stopped): each becomes due now again,
 * unleased, with the attempt its lease counted taken back. Guarded by the lease token, so a
 * unit settled or leased again meanwhile is left alone. Resolves with how many were returned.
 */
export async function returnLeases(
  { db }: SqlContext,
  units: { unitId: string; leaseToken: string }[],
  now: number,
): Promise<number> {
  const byToken = new Map<string, string[]>();
  for (const { unitId, leaseToken } of units) {
    let ids = byToken.get(leaseToken);
    if (!ids) byToken.set(leaseToken, ids = []);
    ids.push(unitId);
  }
  let returned = 0;
  for (const [token, ids] of byToken) {
    for (let i = 0; i < ids.length; i += RETURN_CHUNK) {
      const result = await db.updateTable("queue")
        .set((eb) => handedBack(eb, now))
        .where("state", "=", "queued").where("lease_token", "=", token)
        .where("id", "in", ids.slice(i, i + RETURN_CHUNK))
        .executeTakeFirst();
      returned += Number(result.numUpdatedRows);
    }
  }
  return returned;
}

/**
 * The columns of a unit handed back unattempted: due now, no lease, and the attempt its lease
 * counted taken back.
 */
function handedBack(eb: ExpressionBuilder<Tables, "queue">, now: number) {
  return {
    due_at: now,
    lease_owner: null,
    lease_token: null,
    attempts: eb("attempts", "-", 1),
    updated_at: now,
  };
}

/**
 * Returns every queued unit still carrying one of `tokens` (leases whose grant the node never
 * saw: the answer was lost with the connection), as `returnLeases` does; how many were returned.
 */
export async function returnLeaseTokens(
  { db }: SqlContext,
  tokens: string[],
  now: number,
): Promise<number> {
  if (tokens.length === 0) return 0;
  const result = await db.updateTable("queue")
    .set((eb) => handedBack(eb, now))
    .where("state", "=", "queued").where("lease_token", "in", tokens)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * Returns every queued unit `owner` leased at accept under a token starting with `prefix` (one
 * SMTP worker's run, core/accept/accept_lease.ts), except those under one of `keep` (the
 * scheduler has them), as `returnLeases` does; how many were returned. `prefix` is hex, digits
 * and dots only, so it needs no LIKE escaping.
 */
export async function returnLeasePrefix(
  { db }: SqlContext,
  owner: string,
  prefix: string,
  keep: string[],
  now: number,
): Promise<number> {
  if (!/^[0-9a-z.]+$/.test(prefix)) throw new Error(`Not a lease token prefix: ${prefix}`);
  let update = db.updateTable("queue")
    .set((eb) => handedBack(eb, now))
    .where("state", "=", "queued").where("lease_owner", "=", owner)
    .where("lease_token", "like", `${prefix}%`);
  if (keep.length > 0) update = update.where("lease_token", "not in", keep);
  const result = await update.executeTakeFirst();
  return Number(result.numUpdatedRows);
}
