/**
 * A small seeded PRNG (mulberry32) for tests that must be reproducible from a printed seed: the
 * fault tests' kill moments and the fuzzer's mutations. Not for anything secret.
 *
 * @module
 */

/** A seeded random source. */
export interface Prng {
  /** The seed it started from (print it on failure). */
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max] (both included). */
  int(min: number, max: number): number;
  /** One element of `items`. */
  pick<T>(items: readonly T[]): T;
  /** True with probability `p`. */
  chance(p: number): boolean;
}

/** A PRNG from `seed` (any 32-bit integer). */
export function prng(seed: number): Prng {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  return {
    seed,
    next,
    int,
    pick: (items) => items[int(0, items.length - 1)],
    chance: (p) => next() < p,
  };
}

/** The seed from `env` (decimal) or a fresh one. */
export function seedFrom(env: string): number {
  const given = Deno.env.get(env);
  if (given !== undefined && /^\d+$/.test(given)) return Number(given) >>> 0;
  return Math.floor(Math.random() * 2 ** 31);
}

/** Whether the heavier variants run (`FASTMTA_HEAVY=1`). */
export function heavy(): boolean {
  return Deno.env.get("FASTMTA_HEAVY") === "1";
}
