/**
 * Sliding-window event counts per key (failed logins per address, messages per user per
 * minute) in one Int32Array, updated with Atomics so that threads sharing its buffer (the SMTP
 * workers, core/inbound/shared_limits.ts) share the counts. The admin login throttle
 * (core/auth/login_throttle.ts) uses the same counter on a buffer of its own.
 *
 * Keys are hashed into a fixed number of slots (FNV-1a). Two keys that share a slot share a
 * count, which can only make a limit stricter, never looser.
 */

/** The slot of `key` among `slots` (FNV-1a). */
export function slotOf(key: string, slots: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % slots;
}

/** The memory a {@link RateCounter} counts in: two Int32s per key slot. */
export function rateMemory(slots: number): SharedArrayBuffer {
  return new SharedArrayBuffer(slots * 2 * 4);
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

  /** `memory`: a buffer from {@link rateMemory}, or anything holding one as `rates`. */
  constructor(memory: SharedArrayBuffer | { rates: SharedArrayBuffer }) {
    this.#slots = new Int32Array(memory instanceof SharedArrayBuffer ? memory : memory.rates);
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
