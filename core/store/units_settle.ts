/**
 * Settling delivery outcomes: one transaction logs every attempt, locks the units (in id
 * order, against deadlocks), keeps the outcomes that still own their unit (lease token, or the
 * broker queue's copy number), and writes units and recipients with a few CASE updates per
 * batch (batch_update.ts) instead of statements per unit; on PostgreSQL with UPDATEs from
 * arrays whose text never changes (pg_unnest_update.ts), on SQLite from JSON rows, one text
 * each too (sqlite_settle.ts).
 */
import { CompiledQuery, type Kysely, sql, type Transaction } from "kysely";
import type { Dialect } from "../../migrations/mod.ts";
import type { RecipientResult, UnitOutcome } from "../contracts/mod.ts";
import { chunks, inList, PG_TYPES, rowsPerInsert, type SqlContext } from "./_sql.ts";
import { caseUpdateQuery } from "./batch_update.ts";
import { unnestUpdateQuery, type UnnestUpdateShape } from "./pg_unnest_update.ts";
import { combinedWrites, insertRowsQuery } from "./bulk_insert.ts";
import { attemptRowsOf } from "./attempt_rows.ts";
import { CompiledOnce } from "./compiled_once.ts";
import { applyTotals, countMove, pgTotalsQuery, type TotalsDelta } from "./recipient_totals.ts";
import { type RecipientWrite, recipientWriteQueries } from "./recipient_writes.ts";
import { replyStatusOf } from "./reply_status.ts";
import {
  insertAttemptsSqlite,
  lockUnitsSqlite,
  recipientWritesSqlite,
  totalsSqlite,
  unitRecipientsSqlite,
  updateUnitsSqlite,
} from "./sqlite_settle.ts";
import type { RecipientState, Tables } from "./tables.ts";
import { holdUnit } from "./units_hold.ts";

/** How `settle` recognises the outcome that owns a unit. */
export interface SettleOptions {
  /**
   * Claim by copy number instead of lease token (the broker queue, core/queue/rabbitmq.ts): an
   * outcome settles its unit only if the unit's `copy_seq` is still `claim(outcome)`, and moves
   * it on by one; an attempted (not held) outcome also counts the attempt.
   */
  claim?: (outcome: UnitOutcome) => number;
  /** Recorded with each attempt: the node that made it (unless the outcome names one). */
  nodeId?: string;
}

/** Units per statement when settling (SQL Server's 2 100 parameters bound the CASE lists). */
const SETTLE_UNITS = 100;

/** A locked unit row as settle reads it. */
interface LockedUnit {
  id: string;
  lease_token: string | null;
  state: "queued" | "done";
  attempts: number;
  copy_seq: number;
}

/** Who holds a unit now, as read under the lock. */
interface Holder {
  leaseToken: string | null;
  state: string;
  attempts: number;
  copy: number;
}

/** A locked unit row as its holder (the drivers may return the numbers as strings). */
function holderOf(row: LockedUnit): Holder {
  return {
    leaseToken: row.lease_token,
    state: row.state,
    attempts: Number(row.attempts),
    copy: Number(row.copy_seq),
  };
}

/** An outcome that owns its unit and finishes it; `claimed`: attempts before (broker queue). */
interface Finished {
  o: UnitOutcome;
  claimed: number | undefined;
}

function lockUnitsQuery(
  db: Kysely<Tables>,
  dialect: Dialect,
  ids: string[],
): CompiledQuery<LockedUnit> {
  if (dialect === "mssql") {
    return sql<
      LockedUnit
    >`select "id", "lease_token", "state", "attempts", "copy_seq" from "queue" with (updlock, rowlock) where "id" in (${
      sql.join(ids)
    })`.compile(db);
  }
  if (dialect === "postgres") return LOCK_UNITS.compile(db, dialect, ids);
  const select = db.selectFrom("queue")
    .select(["id", "lease_token", "state", "attempts", "copy_seq"])
    .where(inList(dialect, "id", ids));
  return (dialect === "sqlite3" ? select : select.forUpdate()).compile();
}

/** Settle's lock of its units on PostgreSQL (compiled once: compiled_once.ts). */
const LOCK_UNITS = new CompiledOnce((db, dialect, ids: string[]) =>
  db.selectFrom("queue")
    .select(["id", "lease_token", "state", "attempts", "copy_seq"])
    .where(inList(dialect, "id", ids)).forUpdate()
);

/** Settle's read of its units' recipients (compiled once: compiled_once.ts). */
const UNIT_RECIPIENTS = new CompiledOnce((db, dialect, unitIds: string[]) =>
  db.selectFrom("recipients").select(["id", "unit_id", "address", "state"])
    .where(inList(dialect, "unit_id", unitIds))
);

/** A recipient row as settle reads it. */
interface RecipientRow {
  id: number | string;
  unit_id: string;
  address: string;
  state: RecipientState;
}

/**
 * PostgreSQL: the units locked and their recipients read in one round trip (a recipient-less
 * unit still gives its row, with NULL recipient columns).
 */
const LOCK_WITH_RECIPIENTS = `select q."id", q."lease_token", q."state", q."attempts", ` +
  `q."copy_seq", r."id" as "rid", r."address", r."state" as "rstate" from "queue" as q ` +
  `left join "recipients" as r on r."unit_id" = q."id" where q."id" = any($1::varchar[]) ` +
  `order by q."id" for update of q`;

interface LockedWithRecipient extends LockedUnit {
  rid: number | string | null;
  address: string | null;
  rstate: RecipientRow["state"] | null;
}

/** Locks the units on PostgreSQL and reads their recipients (see LOCK_WITH_RECIPIENTS). */
async function lockWithRecipients(
  trx: Transaction<Tables>,
  unitIds: string[],
): Promise<{ holders: Map<string, Holder>; recipients: RecipientRow[] }> {
  const holders = new Map<string, Holder>();
  const recipients: RecipientRow[] = [];
  const { rows } = await trx.executeQuery(
    CompiledQuery.raw(LOCK_WITH_RECIPIENTS, [unitIds]) as CompiledQuery<LockedWithRecipient>,
  );
  for (const row of rows) {
    holders.set(row.id, holderOf(row));
    if (row.rid === null) continue;
    recipients.push({ id: row.rid, unit_id: row.id, address: row.address!, state: row.rstate! });
  }
  return { holders, recipients };
}

/**
 * Locks the units (in id order, against deadlocks) and reads who holds each one now; on
 * PostgreSQL also their recipients (null elsewhere: updateRecipients reads them).
 */
async function lockHolders(
  trx: Transaction<Tables>,
  dialect: Dialect,
  outcomes: UnitOutcome[],
): Promise<{ holders: Map<string, Holder>; recipients: RecipientRow[] | null }> {
  const unitIds = [...new Set(outcomes.map((o) => o.unitId))].sort();
  if (dialect === "postgres") return await lockWithRecipients(trx, unitIds);
  const holders = new Map<string, Holder>();
  // SQLite: one text whatever the batch (sqlite_settle.ts); its write lock is the lock.
  const parts = dialect === "sqlite3" ? [unitIds] : chunks(unitIds, SETTLE_UNITS);
  for (const part of parts) {
    const query = dialect === "sqlite3"
      ? lockUnitsSqlite(part)
      : lockUnitsQuery(trx, dialect, part);
    const { rows } = await trx.executeQuery(query);
    for (const row of rows) {
      holders.set(row.id, holderOf(row));
    }
  }
  return { holders, recipients: null };
}

/**
 * Finishes (or defers) the units of owning, not held outcomes: one CASE update per chunk, on
 * PostgreSQL one UPDATE from arrays, on SQLite from JSON rows.
 */
async function updateUnits(
  write: Write,
  dialect: Dialect,
  finished: Finished[],
  claim: SettleOptions["claim"],
): Promise<void> {
  for (const part of chunks(finished, SETTLE_UNITS)) {
    const rows = part.map(({ o, claimed }) => {
      const last = o.results[o.results.length - 1];
      const status = replyStatusOf(last?.code, last?.reply);
      const values: Record<string, unknown> = {
        state: o.kind === "deferred" ? "queued" : "done",
        updated_at: o.at,
        last_reply: last?.reply ?? null,
        reply_code: status.code,
        reply_status: status.status,
      };
      if (o.kind === "deferred") values.due_at = o.retryAt;
      if (claimed !== undefined) {
        // The broker queue counts the attempt here (the embedded queue did when leasing)
        // and moves the unit on to its next copy.
        values.attempts = claimed + 1;
        values.copy_seq = claim!(o) + 1;
      }
      return { key: o.unitId, values };
    });
    if (dialect === "postgres" || dialect === "sqlite3") {
      await write(
        dialect === "sqlite3" ? updateUnitsSqlite(rows) : unnestUpdateQuery(SETTLE_UNITS_PG, rows),
      );
      continue;
    }
    await write(caseUpdateQuery(dialect, "queue", "id", rows, {
      constants: { lease_owner: null, lease_token: null, held: null },
      types: {
        due_at: "bigint",
        updated_at: "bigint",
        attempts: "integer",
        copy_seq: "integer",
        reply_code: "integer",
        reply_status: "varchar",
      },
    }));
  }
}

/**
 * Settle's unit UPDATE on PostgreSQL: one text whatever the batch (pg_unnest_update.ts). A
 * retry time only deferred units carry, and the attempt and copy numbers only the broker queue
 * writes, keep the column where a row has none (as the CASE form's `else` does).
 */
const SETTLE_UNITS_PG: UnnestUpdateShape = {
  table: "queue",
  key: "id",
  keyType: "varchar",
  columns: {
    state: { type: "varchar" },
    updated_at: { type: "bigint" },
    last_reply: { type: "text" },
    reply_code: { type: "integer" },
    reply_status: { type: "varchar" },
    due_at: { type: "bigint", apply: "keep-null" },
    attempts: { type: "integer", apply: "keep-null" },
    copy_seq: { type: "integer", apply: "keep-null" },
  },
  constants: ["lease_owner", "lease_token", "held"],
};

/**
 * Recipients: find their row ids (and states before), then one UPDATE per verdict
 * (recipient_writes.ts); the moves into terminal states go to the totals in one more UPDATE
 * (0024).
 */
async function updateRecipients(
  trx: Transaction<Tables>,
  dialect: Dialect,
  write: Write,
  settled: UnitOutcome[],
  known: RecipientRow[] | null,
): Promise<void> {
  // By unit, then address: a joined string key per recipient had to be built, flattened and
  // hashed on both sides (the largest JS cost of settle's profile at 10 recipients).
  const results = new Map<string, { at: number; byAddress: Map<string, RecipientResult> }>();
  for (const o of settled) {
    if (o.results.length === 0) continue;
    const byAddress = new Map<string, RecipientResult>();
    for (const r of o.results) byAddress.set(r.address, r);
    results.set(o.unitId, { at: o.at, byAddress });
  }
  if (results.size === 0) return;
  const writes: RecipientWrite[] = [];
  const delta: TotalsDelta = new Map();
  let unitId: string | null = null;
  let unit: { at: number; byAddress: Map<string, RecipientResult> } | undefined;
  for (const rows of await recipientRows(trx, dialect, settled, known)) {
    for (const row of rows) {
      if (row.unit_id !== unitId) unit = results.get(unitId = row.unit_id); // rows come by unit
      const r = unit?.byAddress.get(row.address);
      if (!r) continue; // not part of this attempt
      const at = unit!.at;
      countMove(delta, { from: row.state, to: r.outcome });
      writes.push({
        id: row.id,
        unitId: row.unit_id,
        state: r.outcome,
        code: r.code,
        reply: r.reply,
        category: r.category ?? null,
        // A final failure owes the sender a DSN: due from this same transaction on.
        dsnDue: r.outcome === "failed" || r.outcome === "suppressed",
        at,
      });
    }
  }
  if (dialect === "sqlite3") {
    if (writes.length > 0) await write(recipientWritesSqlite(writes));
    const totals = totalsSqlite(delta);
    return void (totals && await write(totals));
  }
  for (const query of recipientWriteQueries(dialect, writes)) await write(query);
  if (dialect !== "postgres") return await applyTotals(trx, delta);
  const totals = pgTotalsQuery(delta);
  if (totals) await write(totals);
}

/** The settled units' recipient rows, in chunks: those read with the lock, else read now. */
async function recipientRows(
  trx: Transaction<Tables>,
  dialect: Dialect,
  settled: UnitOutcome[],
  known: RecipientRow[] | null,
): Promise<RecipientRow[][]> {
  if (known) return [known]; // of every locked unit: results are matched by unit and address
  if (dialect === "sqlite3") {
    const unitIds = settled.map((o) => o.unitId);
    return [(await trx.executeQuery(unitRecipientsSqlite(unitIds))).rows as RecipientRow[]];
  }
  const out: RecipientRow[][] = [];
  for (const part of chunks(settled.map((o) => o.unitId), SETTLE_UNITS)) {
    out.push((await trx.executeQuery(UNIT_RECIPIENTS.compile(trx, dialect, part))).rows);
  }
  return out;
}

/** Runs a write now, or (PostgreSQL) keeps it for settle's one combined statement. */
type Write = (query: CompiledQuery) => Promise<unknown>;

/** Records outcomes in one transaction; returns how many had lost their lease. */
export async function settle(
  ctx: SqlContext,
  outcomes: UnitOutcome[],
  options: SettleOptions,
): Promise<number> {
  const { claim, nodeId = null } = options;
  const { dialect } = ctx;
  let lost = 0;
  await ctx.transaction(async (trx) => {
    // PostgreSQL: every write of the batch goes in one statement at the end (combinedWrites),
    // after the one read that locks the units: four round trips with BEGIN and COMMIT.
    const pending: CompiledQuery[] = [];
    const write: Write = dialect === "postgres"
      ? (query) => Promise.resolve(pending.push(query))
      : (query) => trx.executeQuery(query);
    const attemptRows = attemptRowsOf(outcomes, nodeId);
    if (dialect === "sqlite3" && attemptRows.length > 0) {
      await write(insertAttemptsSqlite(attemptRows));
    } else {
      for (const part of chunks(attemptRows, rowsPerInsert(dialect, 20))) {
        await write(insertRowsQuery(dialect, "attempts", part, PG_TYPES.attempts));
      }
    }
    const { holders, recipients } = await lockHolders(trx, dialect, outcomes);
    const settled: UnitOutcome[] = [];
    const finished: Finished[] = [];
    for (const o of outcomes) {
      const holder = holders.get(o.unitId);
      const copy = claim?.(o);
      const owns = holder !== undefined &&
        (copy === undefined
          ? holder.leaseToken === o.leaseToken
          : holder.state === "queued" && holder.copy === copy);
      if (!owns) {
        // The lease expired and another worker took the unit: its outcome wins; ours is
        // only logged (the attempts rows above).
        lost++;
        continue;
      }
      holders.delete(o.unitId); // one outcome per lease
      settled.push(o);
      // Held units (rare) keep their own statement: the attempt is given back.
      if (o.kind === "held") await holdUnit(trx, o, copy);
      else finished.push({ o, claimed: copy === undefined ? undefined : holder!.attempts });
    }
    if (settled.length > 0) {
      await updateUnits(write, dialect, finished, claim);
      await updateRecipients(trx, dialect, write, settled, recipients);
    }
    if (pending.length > 0) await trx.executeQuery(combinedWrites(pending));
  });
  return lost;
}
