/**
 * Delivery units (message × destination domain): insert at accept, lease (embedded queue),
 * settle with the outcome, hold and release. The statements live in units_insert.ts,
 * units_lease.ts and units_settle.ts; this module is the role interface and its small reads.
 */
import type { LeasedUnit, MessageBytes, NewMessage, UnitOutcome } from "../contracts/mod.ts";
import type { SqlContext } from "./_sql.ts";
import { type AcceptLease, insertMessages } from "./units_insert.ts";
import {
  leaseDue,
  type LeaseRequest,
  returnLeasePrefix,
  returnLeases,
  returnLeaseTokens,
} from "./units_lease.ts";
import { settle, type SettleOptions } from "./units_settle.ts";

export type { AcceptLease } from "./units_insert.ts";
export type { LeaseRequest } from "./units_lease.ts";
export type { SettleOptions } from "./units_settle.ts";

/** How `insertMessages` marks the rows it writes. */
export interface InsertOptions {
  /**
   * The broker queue (core/queue/rabbitmq.ts): mark the messages as not yet confirmed by the
   * broker, since this time (`messages.unconfirmed_since`). Without it they count as confirmed.
   */
  unconfirmedSince?: number;
  /**
   * The embedded queue with `queue.lease_at_accept`: these units are inserted already leased,
   * as `leaseDue` would have left them (core/accept/accept_lease.ts).
   */
  lease?: AcceptLease;
}

/** The delivery queue in SQL: what the queues (core/queue) and the scheduler take. */
export interface UnitStore {
  /** Makes a batch of accepted messages durable in one transaction (group commit). */
  insertMessages(messages: NewMessage<MessageBytes>[], options?: InsertOptions): Promise<void>;
  /** Claims up to `limit` due units for `leaseMs`. */
  leaseDue(request: LeaseRequest): Promise<LeasedUnit[]>;
  /** Records outcomes in one transaction; returns how many had lost their lease. */
  settle(outcomes: UnitOutcome[], options?: SettleOptions): Promise<number>;
  /** Makes units leased by `owner` (a previous run of this node) due now. */
  releaseLeases(owner: string, now: number): Promise<number>;
  /**
   * Gives back leases never attempted (due `now`, the attempt taken back), each only while it
   * still carries its lease token; returns how many.
   */
  returnLeases(units: { unitId: string; leaseToken: string }[], now: number): Promise<number>;
  /** Gives back every queued unit leased under one of `tokens`, as `returnLeases`; how many. */
  returnLeaseTokens(tokens: string[], now: number): Promise<number>;
  /**
   * Gives back every queued unit `owner` leased under a token starting with `prefix`, except
   * those under one of `keep`, as `returnLeases`; how many.
   */
  returnLeasePrefix(owner: string, prefix: string, keep: string[], now: number): Promise<number>;
  /** The earliest due time in the queue, or null when it is empty. */
  nextDueAt(): Promise<number | null>;
  /** Makes units held for `reason` (e.g. "paused") due at `now`; returns how many. */
  releaseHeld(reason: string, now: number): Promise<number>;
}

async function releaseLeases(ctx: SqlContext, owner: string, now: number): Promise<number> {
  const result = await ctx.db.updateTable("queue")
    .set({ due_at: now, lease_owner: null, lease_token: null })
    .where("state", "=", "queued").where("lease_owner", "=", owner)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

async function nextDueAt(ctx: SqlContext): Promise<number | null> {
  const select = ctx.db.selectFrom("queue").select("due_at")
    .where("state", "=", "queued").orderBy("due_at");
  const row = await ctx.limit(select, 1).executeTakeFirst();
  return row ? Number(row.due_at) : null;
}

async function releaseHeld(ctx: SqlContext, reason: string, now: number): Promise<number> {
  const result = await ctx.db.updateTable("queue")
    .set({ due_at: now, held: null })
    .where("state", "=", "queued").where("held", "=", reason)
    .where("lease_owner", "is", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** The unit store on one database. */
export function unitRepository(ctx: SqlContext): UnitStore {
  return {
    insertMessages: (messages, options = {}) =>
      messages.length === 0
        ? Promise.resolve()
        : insertMessages(ctx, messages, options.unconfirmedSince, options.lease),
    leaseDue: (request) => leaseDue(ctx, request),
    settle: (outcomes, options = {}) =>
      outcomes.length === 0 ? Promise.resolve(0) : settle(ctx, outcomes, options),
    releaseLeases: (owner, now) => releaseLeases(ctx, owner, now),
    returnLeases: (units, now) => returnLeases(ctx, units, now),
    returnLeaseTokens: (tokens, now) => returnLeaseTokens(ctx, tokens, now),
    returnLeasePrefix: (owner, prefix, keep, now) =>
      returnLeasePrefix(ctx, owner, prefix, keep, now),
    nextDueAt: () => nextDueAt(ctx),
    releaseHeld: (reason, now) => releaseHeld(ctx, reason, now),
  };
}
