/**
 * Rate limits as token buckets that can be reserved ahead: a unit that would get its token within
 * `delivery.max_hold` takes it now (the bucket goes negative) and waits that long; otherwise it
 * is deferred until the bucket has a token for it, without using an attempt.
 */
import type { Rate } from "../config/delivery_schema.ts";

/** A token bucket of `count` tokens refilled evenly over `per` milliseconds. */
export class TokenBucket {
  #count: number;
  #per: number;
  #tokens: number;
  #updated: number;

  constructor(rate: Rate, now: number) {
    this.#count = rate.count;
    this.#per = rate.per;
    this.#tokens = rate.count;
    this.#updated = now;
  }

  /** Follows a changed rule, keeping what was used. */
  configure(rate: Rate) {
    if (rate.count === this.#count && rate.per === this.#per) return;
    this.#tokens = Math.min(this.#tokens, rate.count);
    this.#count = rate.count;
    this.#per = rate.per;
  }

  #refill(now: number) {
    if (now > this.#updated) {
      this.#tokens = Math.min(
        this.#count,
        this.#tokens + (now - this.#updated) * this.#count / this.#per,
      );
      this.#updated = now;
    }
  }

  /** Milliseconds until one token is available (0: now). */
  waitFor(now: number): number {
    this.#refill(now);
    if (this.#tokens >= 1) return 0;
    return Math.ceil((1 - this.#tokens) * this.#per / this.#count);
  }

  /** Takes one token, possibly ahead of time (see waitFor). */
  take(now: number) {
    this.#refill(now);
    this.#tokens -= 1;
  }
}

/** Outcome of asking several buckets for one token each. */
export type Admission = { kind: "now" } | { kind: "wait"; ms: number } | {
  kind: "later";
  at: number;
};

/**
 * Asks every bucket for a token: all now, all within `maxHold` (taken ahead, wait `ms`), or not
 * within `maxHold` (nothing taken; try again at `at`).
 */
export function admit(buckets: TokenBucket[], now: number, maxHold: number): Admission {
  let wait = 0;
  for (const bucket of buckets) wait = Math.max(wait, bucket.waitFor(now));
  if (wait > maxHold) return { kind: "later", at: now + wait };
  for (const bucket of buckets) bucket.take(now);
  return wait === 0 ? { kind: "now" } : { kind: "wait", ms: wait };
}

/** Resolves after `ms` (the wait of a token taken ahead, or of a poll). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
