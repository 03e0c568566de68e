/**
 * The embedded queue: the SQL store's delivery-unit table is the queue. Leasing sets a unit's
 * `due_at` to the lease expiry, so an expired lease is simply due again; settling clears the
 * lease by token. A thin adapter: the store does the work in one transaction per batch.
 */
import type { Config } from "../config/mod.ts";
import type { QuarantineStore, QueueOpsStore, UnitStore } from "../store/mod.ts";
import type {
  HeldOutcome,
  LeasedUnit,
  MessageBytes,
  NewMessage,
  UnitOutcome,
} from "../contracts/mod.ts";
import type { FailureRecord, UnitFailure } from "./failures.ts";
import type { EnqueueOptions, Queue } from "./queue.ts";
import { LostLeases } from "./lost_leases.ts";

/** What the embedded queue reads and writes. */
export type EmbeddedStore =
  & UnitStore
  & Pick<QueueOpsStore, "retryUnits" | "claimUnits">
  & { readonly quarantine: QuarantineStore };

/** The single-node queue on the SQL store. */
export class EmbeddedQueue implements Queue {
  readonly kind = "embedded";
  readonly ready = true;
  readonly leasesAtAccept = true;
  #config: Config;
  #store: EmbeddedStore;
  // Leases no worker holds, left by a connection cut: returned once the connection is back.
  #lost: LostLeases;
  #log: (line: string) => void;

  constructor(config: Config, store: EmbeddedStore, log: (line: string) => void = () => {}) {
    this.#config = config;
    this.#store = store;
    this.#log = log;
    this.#lost = new LostLeases({ leaseMs: () => this.#config.queue.lease_time, log });
  }

  async enqueue(messages: NewMessage<MessageBytes>[], options: EnqueueOptions = {}): Promise<void> {
    // The accept role's own lost leases (below), returned once the database answers again.
    if (this.#lost.size > 0) await this.#lost.returnAll(this.#store, Date.now());
    const lease = options.lease ?? undefined;
    try {
      await this.#store.insertMessages(messages, lease ? { lease } : {});
    } catch (error) {
      // The batch may have been committed with its answer lost: nobody holds those leases.
      if (lease) this.#lost.addLease(lease.token, Date.now());
      throw error;
    }
  }

  async lease(limit: number): Promise<LeasedUnit[]> {
    if (this.#lost.size > 0) await this.#lost.returnAll(this.#store, Date.now());
    const token = crypto.randomUUID();
    try {
      return await this.#store.leaseDue({
        owner: this.#config.nodeId,
        token,
        now: Date.now(),
        leaseMs: this.#config.queue.lease_time,
        limit,
      });
    } catch (error) {
      this.#lost.addLease(token, Date.now()); // it may have committed before the answer was lost
      throw error;
    }
  }

  settle(outcomes: UnitOutcome[]): Promise<number> {
    return this.#store.settle(outcomes, { nodeId: this.#config.nodeId });
  }

  release(): void {
    // Settling cleared the lease in the store; an abandoned one expires by itself.
  }

  fail(failures: UnitFailure[]): Promise<FailureRecord[]> {
    return this.#store.quarantine.recordFailures(failures, {
      limit: this.#config.queue.quarantine_after,
      now: Date.now(),
    });
  }

  async resume(messageId: string): Promise<number> {
    const units = await this.#store.quarantine.quarantined(messageId);
    return await this.#store.quarantine.release(messageId, units, Date.now());
  }

  retryNow(unitIds: string[]): Promise<number> {
    return this.#store.retryUnits(unitIds, Date.now());
  }

  claim(unitIds: string[]): Promise<LeasedUnit[]> {
    return this.#store.claimUnits(unitIds, {
      owner: `operator:${this.#config.nodeId}`.slice(0, 64),
      token: crypto.randomUUID(),
      now: Date.now(),
      leaseMs: this.#config.queue.lease_time,
    });
  }

  async hold(outcomes: HeldOutcome[]): Promise<void> {
    if (outcomes.length > 0) await this.settle(outcomes);
  }

  startTaking(): Promise<void> {
    return Promise.resolve(); // nothing is pushed: units are taken by lease() only
  }

  stopTaking(): Promise<number> {
    return Promise.resolve(0);
  }

  async giveBack(units: { unitId: string; leaseToken: string }[]): Promise<void> {
    if (units.length === 0) return;
    try {
      await this.#store.returnLeases(units, Date.now());
    } catch (error) {
      // Still leased in the database: returned by the next lease call that reaches it.
      this.#lost.addUnits(units);
      this.#log(
        `queue: cannot return ${units.length} units yet (${(error as Error).message}); ` +
          `retried once the database answers`,
      );
    }
  }

  async releaseAcceptLeases(prefix: string, keep: string[]): Promise<number> {
    return await this.#store.returnLeasePrefix(this.#config.nodeId, prefix, keep, Date.now());
  }

  returnWaiting(): string[] {
    return [];
  }

  recover(): Promise<number> {
    return this.#store.releaseLeases(this.#config.nodeId, Date.now());
  }

  nextDueAt(): Promise<number | null> {
    return this.#store.nextDueAt();
  }

  onAvailable(): void {
    // Nothing is pushed: accepts wake the scheduler, and it polls for due retries.
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
