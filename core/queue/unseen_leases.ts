/**
 * Leases the node asked for but never saw granted. When the database connection is cut while a
 * lease transaction commits, the grant is stored but its answer is lost: no worker holds those
 * units, and without this they would come back only when `queue.lease_time` (10 min) ends. The
 * embedded queue notes the token of every lease call that failed and, on its next calls (the
 * connection is back), gives back whatever still carries one of those tokens.
 *
 * A token is retired after a successful give-back made at least `graceMs` after the failure
 * (a commit still in flight on the server when the client gave up lands within that), or once
 * its lease has ended anyway.
 */

/** Gives back every queued unit leased under one of `tokens`; resolves with how many. */
export type ReturnTokens = (tokens: string[], now: number) => Promise<number>;

export class UnseenLeases {
  #failedAt = new Map<string, number>();
  #leaseMs: () => number;
  #graceMs: number;
  #log: (line: string) => void;

  constructor(options: { leaseMs: () => number; graceMs?: number; log?: (line: string) => void }) {
    this.#leaseMs = options.leaseMs;
    this.#graceMs = options.graceMs ?? 5_000;
    this.#log = options.log ?? (() => {});
  }

  /** How many failed lease calls are still being watched. */
  get size(): number {
    return this.#failedAt.size;
  }

  /** A lease call with `token` failed: its grant may have been stored. */
  add(token: string, now: number): void {
    this.#failedAt.set(token, now);
  }

  /**
   * Gives back the units of the watched tokens; a failure leaves them watched (the next call
   * tries again). Resolves with how many units came back.
   */
  async giveBack(returnTokens: ReturnTokens, now: number): Promise<number> {
    for (const [token, at] of this.#failedAt) {
      if (now - at >= this.#leaseMs()) this.#failedAt.delete(token); // due again by itself
    }
    if (this.#failedAt.size === 0) return 0;
    const tokens = [...this.#failedAt.keys()];
    let returned: number;
    try {
      returned = await returnTokens(tokens, now);
    } catch {
      return 0;
    }
    for (const token of tokens) {
      if (now - this.#failedAt.get(token)! >= this.#graceMs) this.#failedAt.delete(token);
    }
    if (returned > 0) {
      this.#log(`gave back ${returned} units leased while the database connection was cut`);
    }
    return returned;
  }
}
