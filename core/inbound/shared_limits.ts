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

const DEFAULT_SLOTS = 16_384;

function slotOf(key: string, slots: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % slots;
}

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

// A slot packs the window number (low 12 bits of it) and the count (19 bits) into one Int32,
// so a compare-and-swap updates both at once. Each key has two slots, for even and odd windows,
// so the previous window's count is still there for the sliding estimate.
const COUNT_BITS = 19;
const COUNT_MAX = (1 << COUNT_BITS) - 1;
const WINDOW_MASK = 0xfff;

/**
 * Events per key over a sliding time window (e.g. a minute), across all workers. The count is
 * the usual two-window estimate: this window's events plus the previous window's, weighted by
 * how much of the previous window still lies within the last `windowMs`. Unlike a fixed window
 * it does not drop to zero at a window boundary.
 */
export class RateCounter {
  #slots: Int32Array;
  #keys: number;

  constructor(memory: SharedLimitsMemory) {
    this.#slots = new Int32Array(memory.rates);
    this.#keys = Math.floor(this.#slots.length / 2);
  }

  #read(index: number, window: number): number {
    const value = Atomics.load(this.#slots, index);
    return (value >>> COUNT_BITS) === (window & WINDOW_MASK) ? value & COUNT_MAX : 0;
  }

  /** Events for `key` within the last `windowMs` (estimated, rounded up). */
  count(key: string, windowMs: number, now = Date.now()): number {
    const base = slotOf(key, this.#keys) * 2;
    const window = Math.floor(now / windowMs);
    const current = this.#read(base + (window & 1), window);
    const previous = this.#read(base + ((window - 1) & 1), window - 1);
    const elapsed = (now - window * windowMs) / windowMs;
    return Math.ceil(current + previous * (1 - elapsed));
  }

  /** Records one event for `key`; returns the count within the last `windowMs` including it. */
  hit(key: string, windowMs: number, now = Date.now()): number {
    const base = slotOf(key, this.#keys) * 2;
    const window = Math.floor(now / windowMs);
    const index = base + (window & 1);
    const tag = window & WINDOW_MASK;
    while (true) {
      const value = Atomics.load(this.#slots, index);
      const count = (value >>> COUNT_BITS) === tag ? value & COUNT_MAX : 0;
      const packed = (tag << COUNT_BITS) | Math.min(count + 1, COUNT_MAX);
      if (Atomics.compareExchange(this.#slots, index, value, packed) === value) break;
    }
    return this.count(key, windowMs, now);
  }
}
