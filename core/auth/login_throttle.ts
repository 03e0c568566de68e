/**
 * The console login throttle: failed logins are counted per client address and per user name
 * over a sliding window, with the same counter SMTP AUTH's lockout uses (core/rate_window.ts).
 * Once either count reaches its limit, logins are refused without checking the password (so the
 * right one fails too, and a guesser learns nothing) until enough of the window has passed.
 * Counts are per node, like SMTP AUTH's; a successful login does not clear them.
 *
 * Reads config: admin.login.*.
 */
import type { Config } from "../config/mod.ts";
import { RateCounter, rateMemory } from "../rate_window.ts";

/** Why a login attempt may not even be checked, or null when it may. */
export type LoginLock = { by: "address" | "user"; failures: number } | null;

const SLOTS = 4_096;

/** Failed console logins per address and per user name. */
export class LoginThrottle {
  #counter = new RateCounter(rateMemory(SLOTS));
  #limits: Config["admin"]["login"];

  constructor(limits: Config["admin"]["login"]) {
    this.#limits = limits;
  }

  /** Whether a login from `address` as `username` is refused now. */
  locked(address: string, username: string): LoginLock {
    const { max_failures, max_failures_per_user, failure_window } = this.#limits;
    const byAddress = this.#counter.count(`ip:${address}`, failure_window);
    if (byAddress >= max_failures) return { by: "address", failures: byAddress };
    const byUser = this.#counter.count(`user:${username}`, failure_window);
    if (byUser >= max_failures_per_user) return { by: "user", failures: byUser };
    return null;
  }

  /** Records a failed login; returns the address's count including it. */
  failed(address: string, username: string): number {
    const { failure_window } = this.#limits;
    this.#counter.hit(`user:${username}`, failure_window);
    return this.#counter.hit(`ip:${address}`, failure_window);
  }

  /** Seconds a refused client should wait before trying again (the whole window: it slides). */
  get retryAfterSeconds(): number {
    return Math.ceil(this.#limits.failure_window / 1000);
  }
}
