/**
 * The operator's writes to delivery units, by unit id (a page of a search at a time): make a
 * waiting unit due now, hold it, cancel it, or claim it for a final outcome (bounce now) that
 * then goes through settle like any delivery outcome. Units a delivery worker holds (leased)
 * are left alone by retry, hold and claim; the broker queue's side of retry and claim (a new
 * copy) is in core/queue, these are its SQL halves.
 */
import type { LeasedUnit } from "../contracts/mod.ts";
import { chunks, type SqlContext } from "./_sql.ts";
import { applyTotals } from "./recipient_totals.ts";
import { OPEN_RECIPIENT_STATES } from "./tables.ts";
import { loadUnits } from "./units_lease.ts";

/** Ids per statement. */
const CHUNK = 500;

/** A queued unit with what a new broker copy of it needs. */
export interface UnitCopy {
  unitId: string;
  messageId: string;
  domain: string;
  sender: string;
  createdAt: number;
  attempts: number;
  /** The live copy now. */
  copy: number;
  dueAt: number;
  /** A lease owner (embedded queue: a worker has it); null when nobody does. */
  leaseOwner: string | null;
  /** Recipients still open. */
  recipients: string[];
  meta: string | null;
}

/** What a cancel changed. */
export interface UnitsCancelled {
  units: number;
  recipients: number;
}

/** Operator writes to units (the store role). */
export interface QueueOpsStore {
  /** Embedded queue: waiting units (not leased, due later) due at `now`; how many. */
  retryUnits(unitIds: string[], now: number): Promise<number>;
  /** Queued units with their live copy (the broker queue publishes the next one). */
  unitCopies(unitIds: string[]): Promise<UnitCopy[]>;
  /**
   * Moves units still at `copy` on to `copy + 1`, due at `now`, not held; how many. With
   * `publish`, in one transaction: the conditional updates first (a concurrent caller waits on
   * the rows, then finds them moved on and changes nothing), then `publish` with the units this
   * caller moved, then the commit; a failed publish rolls the move back. So of two operators
   * retrying one unit at once only one publishes its next copy.
   */
  moveCopies<U extends { unitId: string; copy: number }>(
    units: U[],
    now: number,
    publish?: (moved: U[]) => Promise<void>,
  ): Promise<number>;
  /**
   * Holds queued, unleased units for an operator: quarantined with `why` as the reason, their
   * broker copies made stale; released like quarantined units. How many.
   */
  holdUnits(unitIds: string[], why: string, now: number): Promise<number>;
  /**
   * Cancels units: done, open recipients failed with `reply` and no DSN, one delivery-log row
   * ("cancelled") per recipient.
   */
  cancelUnits(unitIds: string[], reply: string, now: number): Promise<UnitsCancelled>;
  /** Embedded queue: leases queued, unleased units to `owner` (for a settle); those taken. */
  claimUnits(
    unitIds: string[],
    lease: { owner: string; token: string; now: number; leaseMs: number },
  ): Promise<LeasedUnit[]>;
}

async function retryUnits(ctx: SqlContext, unitIds: string[], now: number): Promise<number> {
  let changed = 0;
  for (const part of chunks(unitIds, CHUNK)) {
    const result = await ctx.db.updateTable("queue")
      .set({ due_at: now, held: null, updated_at: now })
      .where("id", "in", part).where("state", "=", "queued").where("lease_owner", "is", null)
      .where("due_at", ">", now)
      .executeTakeFirst();
    changed += Number(result.numUpdatedRows);
  }
  return changed;
}

async function unitCopies(ctx: SqlContext, unitIds: string[]): Promise<UnitCopy[]> {
  const out: UnitCopy[] = [];
  for (const part of chunks(unitIds, CHUNK)) {
    const units = await ctx.db.selectFrom("queue")
      .innerJoin("messages", "messages.id", "queue.message_id")
      .select([
        "queue.id as id",
        "queue.message_id as message_id",
        "queue.domain as domain",
        "queue.attempts as attempts",
        "queue.copy_seq as copy",
        "queue.due_at as due_at",
        "queue.lease_owner as lease_owner",
        "messages.sender as sender",
        "messages.created_at as created",
        "messages.meta as meta",
      ])
      .where("queue.id", "in", part).where("queue.state", "=", "queued").orderBy("queue.id")
      .execute();
    if (units.length === 0) continue;
    const recipients = await ctx.db.selectFrom("recipients")
      .select(["unit_id", "address", "state"]).where("unit_id", "in", units.map((u) => u.id))
      .orderBy("id").execute();
    const open = new Map<string, string[]>();
    for (const r of recipients) {
      if (!OPEN_RECIPIENT_STATES.has(r.state)) continue;
      let list = open.get(r.unit_id);
      if (!list) open.set(r.unit_id, list = []);
      list.push(r.address);
    }
    for (const u of units) {
      out.push({
        unitId: u.id,
        messageId: u.message_id,
        domain: u.domain,
        sender: u.sender,
        createdAt: Number(u.created),
        attempts: Number(u.attempts),
        copy: Number(u.copy),
        dueAt: Number(u.due_at),
        leaseOwner: u.lease_owner,
        recipients: open.get(u.id) ?? [],
        meta: u.meta,
      });
    }
  }
  return out;
}

async function moveCopies<U extends { unitId: string; copy: number }>(
  ctx: SqlContext,
  units: U[],
  now: number,
  publish?: (moved: U[]) => Promise<void>,
): Promise<number> {
  if (units.length === 0) return 0;
  // By id, so two callers moving overlapping sets wait on each other instead of deadlocking.
  const ordered = [...units].sort((a, b) => a.unitId < b.unitId ? -1 : 1);
  // A deadlock can only break one of the updates, before `publish`: the retry publishes once.
  return await ctx.transaction(async (trx) => {
    const moved: U[] = [];
    for (const u of ordered) {
      const result = await trx.updateTable("queue")
        .set({ copy_seq: u.copy + 1, due_at: now, held: null, updated_at: now })
        .where("id", "=", u.unitId).where("state", "=", "queued").where("copy_seq", "=", u.copy)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) > 0) moved.push(u);
    }
    if (publish && moved.length > 0) await publish(moved);
    return moved.length;
  });
}

async function holdUnits(
  ctx: SqlContext,
  unitIds: string[],
  why: string,
  now: number,
): Promise<number> {
  let held = 0;
  for (const part of chunks(unitIds, CHUNK)) {
    const result = await ctx.db.updateTable("queue").set((eb) => ({
      state: "quarantined",
      quarantined_at: now,
      failure_reason: why,
      copy_seq: eb("copy_seq", "+", 1),
      updated_at: now,
    })).where("id", "in", part).where("state", "=", "queued").where("lease_owner", "is", null)
      .executeTakeFirst();
    held += Number(result.numUpdatedRows);
  }
  return held;
}

async function cancelUnits(
  ctx: SqlContext,
  unitIds: string[],
  reply: string,
  now: number,
): Promise<UnitsCancelled> {
  const total = { units: 0, recipients: 0 };
  for (const part of chunks(unitIds, CHUNK)) {
    await ctx.transaction(async (trx) => {
      const open = await trx.selectFrom("queue")
        .select(["id", "message_id", "domain"])
        .where("id", "in", part).where("state", "in", ["queued", "quarantined"]).execute();
      if (open.length === 0) return;
      const ids = open.map((u) => u.id);
      const recipients = (await trx.selectFrom("recipients")
        .select(["unit_id", "message_id", "address", "state"]).where("unit_id", "in", ids)
        .execute()).filter((r) => OPEN_RECIPIENT_STATES.has(r.state));
      const domains = new Map(open.map((u) => [u.id, u.domain]));
      // The delivery log says what became of each recipient (and who did it, in `reply`).
      for (const rows of chunks(recipients, 200)) {
        await trx.insertInto("attempts").values(rows.map((r) => ({
          at: now,
          message_id: r.message_id,
          unit_id: r.unit_id,
          recipient: r.address,
          domain: domains.get(r.unit_id) ?? "",
          outcome: "cancelled" as const,
          code: null,
          reply,
          source_ip: null,
          mx_host: null,
          remote_ip: null,
          tls: 0,
          duration_ms: 0,
          node_id: null,
          tls_verified: 0,
        }))).execute();
      }
      const units = await trx.updateTable("queue").set((eb) => ({
        state: "done",
        quarantined_at: null,
        lease_owner: null,
        lease_token: null,
        held: null,
        copy_seq: eb("copy_seq", "+", 1),
        last_reply: reply,
        updated_at: now,
      })).where("id", "in", ids).where("state", "in", ["queued", "quarantined"])
        .executeTakeFirst();
      const changed = await trx.updateTable("recipients").set({
        state: "failed",
        last_code: null,
        last_reply: reply,
        updated_at: now,
      }).where("unit_id", "in", ids).where("state", "in", ["queued", "deferred"])
        .executeTakeFirst();
      await applyTotals(trx, new Map([["failed", Number(changed.numUpdatedRows)]]));
      total.units += Number(units.numUpdatedRows);
      total.recipients += Number(changed.numUpdatedRows);
    });
  }
  return total;
}

async function claimUnits(
  ctx: SqlContext,
  unitIds: string[],
  lease: { owner: string; token: string; now: number; leaseMs: number },
): Promise<LeasedUnit[]> {
  const out: LeasedUnit[] = [];
  for (const part of chunks(unitIds, CHUNK)) {
    const units = await ctx.transaction(async (trx) => {
      await trx.updateTable("queue").set((eb) => ({
        lease_owner: lease.owner,
        lease_token: lease.token,
        due_at: lease.now + lease.leaseMs,
        attempts: eb("attempts", "+", 1),
        updated_at: lease.now,
      })).where("id", "in", part).where("state", "=", "queued").where("lease_owner", "is", null)
        .execute();
      const taken = await trx.selectFrom("queue").select("id")
        .where("id", "in", part).where("lease_token", "=", lease.token).execute();
      return taken.length === 0 ? [] : await loadUnits(trx, taken.map((t) => t.id), lease.token);
    });
    out.push(...units);
  }
  return out;
}

/** The operator's unit writes on one database. */
export function queueOpsRepository(ctx: SqlContext): QueueOpsStore {
  return {
    retryUnits: (ids, now) => retryUnits(ctx, ids, now),
    unitCopies: (ids) => unitCopies(ctx, ids),
    moveCopies: (units, now, publish) => moveCopies(ctx, units, now, publish),
    holdUnits: (ids, why, now) => holdUnits(ctx, ids, why, now),
    cancelUnits: (ids, reply, now) => cancelUnits(ctx, ids, reply, now),
    claimUnits: (ids, lease) => claimUnits(ctx, ids, lease),
  };
}
