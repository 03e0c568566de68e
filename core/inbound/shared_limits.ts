/**
 * Counters every SMTP worker of a node shares, in SharedArrayBuffers made by the main thread:
 * concurrent connections per client IP, and sliding-window rates (failed AUTH per IP, messages
 * per user per minute). Workers update them with Atomics — no messages between threads on
 * the accept path.
 *
 * Keys are hashed into a fixed number of slots (FNV-1a). Two keys that share a slot share a
 * count, which can only make a limit stricter, never looser; with 16 384 slots and limits in
 * the tens this is rare. Counts are per node, not per cluster.
 */

import { RateCounter, slotOf } from "../rate_window.ts";

export { RateCounter };

const DEFAULT_SLOTS = 16_384;

/** The shared memory behind the limits; made once by the main thread, sent to each worker. */
export interface SharedLimitsMemory {
  /** Connection counts, one row per worker so a restarted worker can clear its own. */
  connections: SharedArrayBuffer;
  /** Rate windows: two packed (window, count) Int32s per slot. */
  rates: SharedArrayBuffer;
  workers: number;
  slots: number;
}

/** Allocates the shared memory for `workers` SMTP workers. */
export function createSharedLimits(workers: number, slots = DEFAULT_SLOTS): SharedLimitsMemory {
  return {
    connections: new SharedArrayBuffer(workers * slots * 4),
    rates: new SharedArrayBuffer(slots * 2 * 4),
    workers,
    slots,
  };
}

/** Concurrent connections per key across all workers. */
export class ConnectionGauge {
  #counts: Int32Array;
  #own: number;
  #workers: number;
  #slots: number;

  /** `worker` is this worker's index; its row is cleared (a restart forgets dead sessions). */
  constructor(memory: SharedLimitsMemory, worker: number) {
    this.#counts = new Int32Array(memory.connections);
    this.#workers = memory.workers;
    this.#slots = memory.slots;
    this.#own = (worker % memory.workers) * memory.slots;
    for (let i = 0; i < this.#slots; i++) Atomics.store(this.#counts, this.#own + i, 0);
  }

  /** Takes one connection for `key` if that keeps the total at or under `limit`. */
  acquire(key: string, limit: number): boolean {
    const slot = slotOf(key, this.#slots);
    Atomics.add(this.#counts, this.#own + slot, 1);
    let total = 0;
    for (let w = 0; w < this.#workers; w++) {
      total += Atomics.load(this.#counts, w * this.#slots + slot);
    }
    if (total > limit) {
      Atomics.sub(this.#counts, this.#own + slot, 1);
      return false;
    }
    return true;
  }

  /** Gives back a connection taken by `acquire` in this worker. */
  release(key: string): void {
    Atomics.sub(this.#counts, this.#own + slotOf(key, this.#slots), 1);
  }
}
