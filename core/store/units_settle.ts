/**
 * Settling delivery outcomes: one transaction logs every attempt, locks the units (in id
 * order, against deadlocks), keeps the outcomes that still own their unit (lease token, or the
 * broker queue's copy number), and writes units and recipients with a few CASE updates per
 * batch (batch_update.ts) instead of statements per unit; on PostgreSQL with UPDATEs from
 * arrays whose text never changes (pg_unnest_update.ts).
 */
import type { CompiledQuery, Insertable, Kysely, Transaction } from "kysely";
import { sql } from "kysely";
import type { Dialect } from "../../migrations/mod.ts";
import type { HeldOutcome, UnitOutcome } from "../contracts/mod.ts";
import { chunks, inList, PG_TYPES, rowsPerInsert, type SqlContext } from "./_sql.ts";
import { caseUpdateQuery } from "./batch_update.ts";
import { unnestUpdateQuery, type UnnestUpdateShape } from "./pg_unnest_update.ts";
import { insertRowsQuery } from "./bulk_insert.ts";
import { CompiledOnce } from "./compiled_once.ts";
import { applyTotals, countMove, type TotalsDelta } from "./recipient_totals.ts";
import { type RecipientWrite, recipientWriteQueries } from "./recipient_writes.ts";
import { replyStatusOf } from "./reply_status.ts";
import type { AttemptsTable, Tables } from "./tables.ts";

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

/** The delivery-log rows of a batch of outcomes: every try, then every recipient's result. */
function attemptRowsOf(outcomes: UnitOutcome[], nodeId: string | null) {
  const rows: Insertable<AttemptsTable>[] = [];
  for (const o of outcomes) {
    const common = {
      message_id: o.messageId,
      unit_id: o.unitId,
      domain: o.domain,
      node_id: o.nodeId ?? nodeId,
      site: o.site ?? null,
      pool: o.pool ?? null,
    };
    for (const t of o.tries ?? []) {
      rows.push({
        ...common,
        at: t.at,
        recipient: "",
        outcome: "tried",
        code: t.code,
        reply: t.reply,
        source_ip: t.sourceIp,
        mx_host: t.mxHost,
        remote_ip: t.remoteIp,
        tls: 0,
        tls_version: null,
        tls_verified: 0,
        duration_ms: Math.round(t.durationMs),
        reason: null,
        category: null,
      });
    }
    for (const r of o.results) {
      rows.push({
        ...common,
        at: o.at,
        recipient: r.address,
        outcome: r.outcome,
        code: r.code,
        reply: r.reply,
        source_ip: o.sourceIp,
        mx_host: o.mxHost,
        remote_ip: o.remoteIp,
        tls: o.tls ? 1 : 0,
        tls_version: o.tlsVersion ?? null,
        tls_verified: o.tlsVerified ? 1 : 0,
        duration_ms: Math.round(o.durationMs),
        reason: r.outcome === "deferred" && o.kind === "deferred" ? o.reason : null,
        category: r.category ?? null,
      });
    }
  }
  return rows;
}

/** Locks the units (in id order, against deadlocks) and reads who holds each one now. */
async function lockHolders(
  trx: Transaction<Tables>,
  dialect: Dialect,
  outcomes: UnitOutcome[],
): Promise<Map<string, Holder>> {
  const unitIds = [...new Set(outcomes.map((o) => o.unitId))].sort();
  const holders = new Map<string, Holder>();
  for (const part of chunks(unitIds, SETTLE_UNITS)) {
    const { rows } = await trx.executeQuery(lockUnitsQuery(trx, dialect, part));
    for (const row of rows) {
      holders.set(row.id, {
        leaseToken: row.lease_token,
        state: row.state,
        attempts: Number(row.attempts),
        copy: Number(row.copy_seq),
      });
    }
  }
  return holders;
}

/**
 * The unit row an outcome may settle: the one leased with its token, or (broker queue) the one
 * still at copy number `copy`, which then moves on by one.
 */
function claimUnit(trx: Transaction<Tables>, o: UnitOutcome, copy: number | undefined) {
  const update = trx.updateTable("queue").where("id", "=", o.unitId);
  if (copy === undefined) return update.where("lease_token", "=", o.leaseToken);
  return update.where("copy_seq", "=", copy).where("state", "=", "queued")
    .set({ copy_seq: copy + 1 });
}

/** Settles a held unit: due again at `until`, and the attempt it was leased with given back. */
async function holdUnit(
  trx: Transaction<Tables>,
  o: HeldOutcome,
  copy: number | undefined,
): Promise<boolean> {
  // A held unit may still carry final results (recipients screened out before the hold, e.g.
  // suppressed): the caller records them like any other.
  const result = await claimUnit(trx, o, copy)
    .set((eb) => ({
      due_at: o.until,
      // Leasing counted an attempt in the embedded queue; the broker queue counts at settle.
      attempts: copy === undefined ? eb("attempts", "-", 1) : eb.ref("attempts"),
      lease_owner: null,
      lease_token: null,
      updated_at: o.at,
      held: o.reason,
      last_reply: o.why,
    }))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * Finishes (or defers) the units of owning, not held outcomes: one CASE update per chunk, on
 * PostgreSQL one UPDATE from arrays.
 */
async function updateUnits(
  trx: Transaction<Tables>,
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
    if (dialect === "postgres") {
      await trx.executeQuery(unnestUpdateQuery(SETTLE_UNITS_PG, rows));
      continue;
    }
    await trx.executeQuery(caseUpdateQuery(dialect, "queue", "id", rows, {
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
  settled: UnitOutcome[],
): Promise<void> {
  const results = new Map<string, { r: UnitOutcome["results"][number]; at: number }>();
  for (const o of settled) {
    for (const r of o.results) results.set(`${o.unitId}\u0000${r.address}`, { r, at: o.at });
  }
  if (results.size === 0) return;
  const writes: RecipientWrite[] = [];
  const delta: TotalsDelta = new Map();
  for (const part of chunks(settled.map((o) => o.unitId), SETTLE_UNITS)) {
    const { rows } = await trx.executeQuery(UNIT_RECIPIENTS.compile(trx, dialect, part));
    for (const row of rows) {
      const result = results.get(`${row.unit_id}\u0000${row.address}`);
      if (!result) continue; // not part of this attempt
      const { r, at } = result;
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
  for (const query of recipientWriteQueries(dialect, writes)) await trx.executeQuery(query);
  await applyTotals(trx, delta, dialect);
}

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
    const attemptRows = attemptRowsOf(outcomes, nodeId);
    for (const part of chunks(attemptRows, rowsPerInsert(dialect, 20))) {
      await trx.executeQuery(insertRowsQuery(dialect, "attempts", part, PG_TYPES.attempts));
    }
    const holders = await lockHolders(trx, dialect, outcomes);
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
    if (settled.length === 0) return;
    await updateUnits(trx, dialect, finished, claim);
    await updateRecipients(trx, dialect, settled);
  });
  return lost;
}
