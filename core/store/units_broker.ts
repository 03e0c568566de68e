/**
 * The few SQL reads and writes the RabbitMQ queue (core/queue/rabbitmq.ts) needs besides insert
 * and settle: the current state of units (to recognise stale copies), what a retry copy
 * carries, undoing an accept the broker did not confirm, clearing the "not yet confirmed" mark
 * of a confirmed batch, and sweeping batches whose node died before either. Batched: one
 * statement per call and chunk.
 */
import type { ExpressionBuilder, Transaction } from "kysely";
import { chunks, inList, type SqlContext } from "./_sql.ts";
import { CompiledOnce } from "./compiled_once.ts";
import { applyTotals, countMove, TERMINAL_STATES, type TotalsDelta } from "./recipient_totals.ts";
import { OPEN_RECIPIENT_STATES, type Tables } from "./tables.ts";

const CHUNK = 500;

/** Where a unit stands in SQL. */
export interface UnitState {
  state: "queued" | "done" | "quarantined";
  /** The live copy's number. */
  copy: number;
  /** The message's meta (JSON text), for the leased unit. */
  meta: string | null;
}

/** The schedule role's check of every pushed batch (compiled once: compiled_once.ts). */
const UNIT_STATES = new CompiledOnce((db, dialect, ids: string[]) =>
  db.selectFrom("queue")
    .innerJoin("messages", "messages.id", "queue.message_id")
    .select(["queue.id as id", "queue.state as state", "queue.copy_seq as copy", "messages.meta"])
    .where(inList(dialect, "queue.id", ids))
);

/** The state and live copy of each unit that exists. */
async function unitStates(
  { db, dialect }: SqlContext,
  unitIds: string[],
): Promise<Map<string, UnitState>> {
  const states = new Map<string, UnitState>();
  for (const part of chunks([...new Set(unitIds)], CHUNK)) {
    const { rows } = await db.executeQuery(UNIT_STATES.compile(db, dialect, part));
    for (const row of rows) {
      states.set(row.id, { state: row.state, copy: Number(row.copy), meta: row.meta });
    }
  }
  return states;
}

/** What a unit's next copy carries besides the outcome: sender, age, recipients still open. */
export interface UnitOrigin {
  sender: string;
  createdAt: number;
  /** Recipients not yet delivered or failed (before this settle). */
  open: string[];
}

/** Sender, creation time and open recipients of each unit. */
async function unitOrigins(
  { db }: SqlContext,
  unitIds: string[],
): Promise<Map<string, UnitOrigin>> {
  const origins = new Map<string, UnitOrigin>();
  for (const part of chunks([...new Set(unitIds)], CHUNK)) {
    const rows = await db.selectFrom("queue")
      .innerJoin("messages", "messages.id", "queue.message_id")
      .select(["queue.id as id", "messages.sender as sender", "messages.created_at as created"])
      .where("queue.id", "in", part).execute();
    for (const row of rows) {
      origins.set(row.id, { sender: row.sender, createdAt: Number(row.created), open: [] });
    }
    // Open states filtered here: with `state IN (…)` SQLite reads the whole recipients_state
    // index instead of recipients_unit (see loadUnits in units_lease.ts).
    const recipients = await db.selectFrom("recipients").select(["unit_id", "address", "state"])
      .where("unit_id", "in", part).orderBy("id").execute();
    for (const r of recipients) {
      if (OPEN_RECIPIENT_STATES.has(r.state)) origins.get(r.unit_id)?.open.push(r.address);
    }
  }
  return origins;
}

/**
 * What deleting the recipients of `messageIds` (only of those already deleted, with `goneOnly`)
 * takes out of the totals (recipient_totals.ts): read before the delete, applied after it.
 */
async function terminalOf(
  trx: Transaction<Tables>,
  messageIds: string[],
  goneOnly = false,
): Promise<TotalsDelta> {
  let query = trx.selectFrom("recipients")
    .select((eb) => ["state", eb.fn.countAll<number>().as("n")])
    .where("message_id", "in", messageIds).where("state", "in", [...TERMINAL_STATES]);
  if (goneOnly) {
    query = query.where((eb) =>
      eb.not(eb.exists(
        eb.selectFrom("messages").select("messages.id")
          .whereRef("messages.id", "=", "recipients.message_id"),
      ))
    );
  }
  const delta: TotalsDelta = new Map();
  for (const row of await query.groupBy("state").execute()) {
    countMove(delta, { from: row.state }, Number(row.n));
  }
  return delta;
}

/**
 * Removes messages that were committed but could not be queued on the broker (the client was
 * told to try again, so keeping them would deliver twice).
 */
async function forgetMessages({ db }: SqlContext, messageIds: string[]): Promise<void> {
  await db.transaction().execute(async (trx) => {
    for (const part of chunks(messageIds, CHUNK)) {
      const delta = await terminalOf(trx, part);
      await trx.deleteFrom("recipients").where("message_id", "in", part).execute();
      await trx.deleteFrom("queue").where("message_id", "in", part).execute();
      await trx.deleteFrom("messages").where("id", "in", part).execute();
      await applyTotals(trx, delta);
    }
  });
}

/**
 * Clears the "not yet confirmed" mark (`messages.unconfirmed_since`) of a batch the broker
 * confirmed: one UPDATE per batch (the acceptor's batches are at most 500 messages).
 */
async function confirmMessages({ db, dialect }: SqlContext, messageIds: string[]): Promise<void> {
  for (const part of chunks(messageIds, CHUNK)) {
    await db.executeQuery(CONFIRM.compile(db, dialect, part));
  }
}

/** Once per accepted batch (compiled once: compiled_once.ts). */
const CONFIRM = new CompiledOnce((db, dialect, ids: string[]) =>
  db.updateTable("messages").set({ unconfirmed_since: null }).where(inList(dialect, "id", ids))
);

/** What one sweep of unconfirmed messages did. */
export interface SweepResult {
  /** Messages still marked since before the cutoff (at most the limit). */
  found: number;
  /** Of those, deleted with their units and recipients. */
  removed: number;
  /** Of those, kept and marked confirmed: a node already settled one of their units. */
  kept: number;
}

/** A unit of the message was leased and settled (its copy moved on): the broker had it. */
function settledOnce(eb: ExpressionBuilder<Tables, "messages">) {
  return eb.exists(
    eb.selectFrom("queue").select("queue.id")
      .whereRef("queue.message_id", "=", "messages.id").where("queue.copy_seq", ">", 0),
  );
}

/**
 * One bounded pass over messages still marked unconfirmed since before `cutoff`: their node
 * died between the SQL commit and clearing the mark, so the client never heard 250 (it retries)
 * and, in the usual case, no broker message refers to them. Those are deleted with their units
 * and recipients. If a unit of one was settled after all (the broker had confirmed, the node
 * died just before the UPDATE), it is kept and its mark cleared instead.
 *
 * Safe with several nodes sweeping at once: the DELETE of `messages` re-checks the mark, and
 * units and recipients go only for messages that no longer exist (this transaction sees its own
 * delete; a concurrent sweeper's rows are locked until it commits). Returns what it did.
 */
async function sweepUnconfirmed(
  ctx: SqlContext,
  cutoff: number,
  limit: number,
): Promise<SweepResult> {
  const { db } = ctx;
  const select = db.selectFrom("messages").select("id")
    .where("unconfirmed_since", "is not", null).where("unconfirmed_since", "<", cutoff);
  const ids = (await ctx.limit(select, limit).execute()).map((row) => row.id);
  if (ids.length === 0) return { found: 0, removed: 0, kept: 0 };
  const seen = await db.selectFrom("messages").select("id")
    .where("id", "in", ids).where(settledOnce).execute();
  const kept = new Set(seen.map((row) => row.id));
  if (kept.size > 0) {
    await db.updateTable("messages").set({ unconfirmed_since: null })
      .where("id", "in", [...kept]).execute();
  }
  const orphans = ids.filter((id) => !kept.has(id));
  if (orphans.length === 0) return { found: ids.length, removed: 0, kept: kept.size };
  const removed = await db.transaction().execute(async (trx) => {
    const deleted = await trx.deleteFrom("messages")
      .where("id", "in", orphans)
      .where("unconfirmed_since", "is not", null).where("unconfirmed_since", "<", cutoff)
      .where((eb) => eb.not(settledOnce(eb)))
      .executeTakeFirst();
    const n = Number(deleted.numDeletedRows);
    if (n === 0) return 0; // another node swept them first
    // Orphans were never settled, but a terminal row (none expected) leaves the totals too.
    const delta = await terminalOf(trx, orphans, true);
    await trx.deleteFrom("recipients").where("message_id", "in", orphans)
      .where((eb) =>
        eb.not(eb.exists(
          eb.selectFrom("messages").select("messages.id")
            .whereRef("messages.id", "=", "recipients.message_id"),
        ))
      ).execute();
    await trx.deleteFrom("queue").where("message_id", "in", orphans)
      .where((eb) =>
        eb.not(eb.exists(
          eb.selectFrom("messages").select("messages.id")
            .whereRef("messages.id", "=", "queue.message_id"),
        ))
      ).execute();
    await applyTotals(trx, delta);
    return n;
  });
  return { found: ids.length, removed, kept: kept.size };
}

/** What the broker queue reads and writes in SQL besides insert and settle. */
export interface BrokerUnitStore {
  /** The state and live copy of each unit that exists. */
  unitStates(unitIds: string[]): Promise<Map<string, UnitState>>;
  /** Sender, creation time and open recipients of each unit. */
  unitOrigins(unitIds: string[]): Promise<Map<string, UnitOrigin>>;
  /** Removes committed messages the broker did not take (the client was told to retry). */
  forgetMessages(messageIds: string[]): Promise<void>;
  /** Clears the "not yet confirmed" mark of messages the broker confirmed. */
  confirmMessages(messageIds: string[]): Promise<void>;
  /** One bounded pass over messages left unconfirmed since before `cutoff` by a dead node. */
  sweepUnconfirmed(cutoff: number, limit: number): Promise<SweepResult>;
}

/** The broker queue's unit reads and writes on one database. */
export function brokerUnitRepository(ctx: SqlContext): BrokerUnitStore {
  return {
    unitStates: (unitIds) => unitStates(ctx, unitIds),
    unitOrigins: (unitIds) => unitOrigins(ctx, unitIds),
    forgetMessages: (messageIds) => forgetMessages(ctx, messageIds),
    confirmMessages: (messageIds) => confirmMessages(ctx, messageIds),
    sweepUnconfirmed: (cutoff, limit) => sweepUnconfirmed(ctx, cutoff, limit),
  };
}
