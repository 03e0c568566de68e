/**
 * The settle stage of one delivery worker: collects outcomes, settles them in batches (one
 * queue settle per batch), holds them while the database is away, and runs the hooks around
 * settle (classification before, suppressions and DSNs once the batch is durable). Reports
 * which leases finished so the leasing side can release them.
 *
 * Isolation (docs/quarantine.md): a settle that fails because of one outcome (found by settling
 * the batch again one by one) is that unit's handling failure (`Queue.fail`: retried after a
 * short backoff, quarantined at `queue.quarantine_after`); the rest of the batch goes on. The
 * database or broker being away is never counted against a unit.
 *
 * Talks to: the queue (settle, fail).
 */
import type { LeasedUnit, UnitOutcome } from "../contracts/mod.ts";
import type { Queue } from "../queue/mod.ts";
import { StoreUnavailableError } from "../store/health.ts";
import {
  failureReason,
  isInfrastructureError,
  reportFailures,
  type UnitFailure,
} from "../queue/failures.ts";
import { faultDue, InjectedFault } from "../fault_points.ts";
import { emitOutcomes, emitQuarantined } from "../events/mod.ts";
import { type OutcomeLog, recordSettled } from "./record.ts";

/** Hooks around settle (core/bounce), fixed when the settler is built. */
export interface SettleHooks {
  /** Before settle, on each outcome (bounce categories). */
  classify?(outcome: UnitOutcome): UnitOutcome;
  /** After a batch is durable (suppressions, DSNs); returns at once, errors are logged. */
  afterSettle?(batch: UnitOutcome[]): void;
}

/**
 * Called after each batch with the units finished, their lease tokens and unit ids;
 * `requeue` when they were not settled (the leasing side makes them due again).
 */
export type OnSettled = (
  count: number,
  tokens: string[],
  requeue: boolean,
  unitIds: string[],
  /** The earliest time one of them is due again (a retry, a hold's end), if any is. */
  dueAt?: number,
) => void;

/** Options for a {@link Settler}. */
export interface SettlerOptions {
  /** Where outcomes are settled and handling failures counted. */
  queue: Pick<Queue, "settle" | "fail">;
  onSettled?: OnSettled;
  hooks?: SettleHooks;
  log?: (line: string) => void;
  /** Where each settled outcome is logged (with its queue id); counters are bumped anyway. */
  logOutcome?: OutcomeLog;
}

/** What one-by-one settling of a failed batch found. */
interface SettledEach {
  settled: UnitOutcome[];
  unsettled: UnitOutcome[];
  failed: UnitFailure[];
  held: UnitOutcome[];
  heldError: Error;
}

/** Settles outcomes in batches; see the module comment. */
export class Settler {
  #queue: Pick<Queue, "settle" | "fail">;
  #onSettled: OnSettled;
  #hooks: SettleHooks;
  #log: (line: string) => void;
  #logOutcome: OutcomeLog | undefined;
  #pending: UnitOutcome[] = [];
  #settling = false;
  #settleScheduled = false;
  /** Wait before the next settle while the database is away; 0 when it answers. */
  #settleRetryMs = 0;
  #draining = false;
  /** Handling failures being recorded. */
  #recording = 0;

  constructor(options: SettlerOptions) {
    this.#queue = options.queue;
    this.#onSettled = options.onSettled ?? (() => {});
    this.#hooks = options.hooks ?? {};
    this.#log = options.log ?? (() => {});
    this.#logOutcome = options.logOutcome;
  }

  /** Outcomes waiting to be settled or being settled, and failures being recorded. */
  get busy(): number {
    return this.#pending.length + (this.#settling ? 1 : 0) + this.#recording;
  }

  /** Takes one outcome; it is settled with the next batch. */
  add(outcome: UnitOutcome) {
    // [bounce hook] categories, before settle.
    this.#pending.push(this.#hooks.classify ? this.#hooks.classify(outcome) : outcome);
    this.#scheduleSettle();
  }

  /** Gives a lease back unsettled (the database or broker was away): due again now. */
  giveBack(unit: Pick<LeasedUnit, "unitId" | "leaseToken">) {
    this.#onSettled(1, [unit.leaseToken], true, [unit.unitId]);
  }

  /** Counts a unit's own handling failure at `stage`, then gives its lease back. */
  fail(
    unit: Pick<LeasedUnit, "unitId" | "messageId" | "leaseToken">,
    stage: string,
    error: unknown,
  ) {
    this.#recordFailures([failureOf(unit, failureReason(stage, error))]);
  }

  /**
   * Settles what is pending now, unless a settle is running; false when there was nothing to
   * do. While draining, a database that is away no longer holds outcomes: their leases expire.
   */
  async settleNow(draining: boolean): Promise<boolean> {
    this.#draining ||= draining;
    if (this.#pending.length === 0 || this.#settling) return false;
    await this.#settle();
    return true;
  }

  #scheduleSettle() {
    if (this.#settleScheduled || this.#settling) return;
    this.#settleScheduled = true;
    setTimeout(() => this.#settle(), 0);
  }

  async #settle() {
    this.#settleScheduled = false;
    if (this.#pending.length === 0) return;
    this.#settling = true;
    const batch = this.#pending;
    this.#pending = [];
    // TEST ONLY (core/fault_points.ts): outcomes whose settle is to throw in this pass.
    const faulty = new Set(batch.filter((o) => faultDue("settle", o.unitId)).map((o) => o.unitId));
    let settled: UnitOutcome[] = [];
    let unsettled: UnitOutcome[] = [];
    let failed: UnitFailure[] = [];
    try {
      await this.#settleChecked(batch, faulty);
      settled = batch;
      if (this.#settleRetryMs > 0) {
        this.#log(`settled ${batch.length} held while the database was away`);
        this.#settleRetryMs = 0;
      }
    } catch (error) {
      if (error instanceof StoreUnavailableError && !this.#draining) {
        this.#holdForRetry(batch, error);
        return;
      }
      if (isInfrastructureError(error)) {
        // Nothing is lost: the leases expire and the units are delivered again (at-least-once).
        this.#log(`cannot settle ${batch.length}: ${(error as Error).message}`);
        unsettled = batch;
      } else {
        // One outcome may be at fault: settle them one by one, so only that unit fails.
        const each = await this.#settleEach(batch, faulty);
        ({ settled, unsettled, failed } = each);
        if (each.held.length > 0) this.#holdForRetry(each.held, each.heldError);
      }
    } finally {
      this.#settling = false;
    }
    if (settled.length > 0) recordSettled(settled, this.#logOutcome);
    this.#report(settled, false);
    this.#report(unsettled, true);
    if (failed.length > 0) this.#recordFailures(failed);
    // Events once the outcomes are durable; emitting only buffers (core/events).
    if (settled.length > 0) emitOutcomes(settled);
    // [bounce hook] suppressions and DSNs, after the outcome is durable.
    try {
      if (settled.length > 0) this.#hooks.afterSettle?.(settled);
    } catch (error) {
      this.#log(`after settle: ${(error as Error).message}`);
    }
    if (this.#pending.length > 0) this.#scheduleSettle();
  }

  #report(outcomes: UnitOutcome[], requeue: boolean) {
    if (outcomes.length === 0) return;
    let dueAt: number | undefined;
    for (const o of outcomes) {
      const at = o.kind === "deferred" ? o.retryAt : o.kind === "held" ? o.until : undefined;
      if (at !== undefined && (dueAt === undefined || at < dueAt)) dueAt = at;
    }
    this.#onSettled(
      outcomes.length,
      outcomes.map((o) => o.leaseToken),
      requeue,
      outcomes.map((o) => o.unitId),
      dueAt,
    );
  }

  async #settleChecked(outcomes: UnitOutcome[], faulty: Set<string>) {
    const fault = faulty.size > 0 ? outcomes.find((o) => faulty.has(o.unitId)) : undefined;
    if (fault) throw new InjectedFault("settle", fault.unitId);
    const lost = await this.#queue.settle(outcomes);
    if (lost > 0) this.#log(`${lost} outcomes arrived after their lease`);
  }

  /** Settles one outcome at a time; stops (holding the rest) if the database goes away. */
  async #settleEach(batch: UnitOutcome[], faulty: Set<string>): Promise<SettledEach> {
    const each: SettledEach = {
      settled: [],
      unsettled: [],
      failed: [],
      held: [],
      heldError: new Error("unknown"),
    };
    for (let i = 0; i < batch.length; i++) {
      const o = batch[i];
      try {
        await this.#settleChecked([o], faulty);
        each.settled.push(o);
      } catch (error) {
        if (error instanceof StoreUnavailableError && !this.#draining) {
          each.held = batch.slice(i);
          each.heldError = error;
          break;
        }
        if (isInfrastructureError(error)) each.unsettled.push(o);
        else each.failed.push(failureOf(o, failureReason("settle", error)));
      }
    }
    return each;
  }

  /**
   * The database is away: keep the outcomes and settle them when it is back, so the units are
   * not delivered a second time (nobody can lease them meanwhile: that needs the database too).
   * If the worker stops first, the leases expire and the units are delivered again:
   * at-least-once, nothing lost.
   */
  #holdForRetry(outcomes: UnitOutcome[], error: Error) {
    if (this.#settleRetryMs === 0) {
      this.#log(`cannot settle ${outcomes.length}, holding them: ${error.message}`);
    }
    this.#pending = outcomes.concat(this.#pending);
    this.#settleRetryMs = Math.min(Math.max(this.#settleRetryMs * 2, 500), 10_000);
    this.#settling = false;
    this.#settleScheduled = true;
    setTimeout(() => this.#settle(), this.#settleRetryMs);
  }

  /** Counts handling failures, then gives the leases back (due again, or quarantined). */
  #recordFailures(failures: UnitFailure[]) {
    this.#recording++;
    this.#queue.fail(failures).then(
      (records) => reportFailures(records, this.#log, emitQuarantined),
      (error) => this.#log(`cannot record ${failures.length} handling failures: ${error.message}`),
    ).finally(() => {
      this.#recording--;
      this.#onSettled(
        failures.length,
        failures.map((f) => f.leaseToken),
        true,
        failures.map((f) => f.unitId),
      );
    });
  }
}

/** A handling failure of the unit `of` names. */
function failureOf(
  of: Pick<LeasedUnit, "unitId" | "messageId" | "leaseToken">,
  reason: string,
): UnitFailure {
  return { unitId: of.unitId, messageId: of.messageId, leaseToken: of.leaseToken, reason };
}
