/**
 * Leases of the embedded queue that no worker holds but the database still shows as this node's,
 * because the connection was cut at the wrong moment:
 *
 * - a lease call that failed: the grant may have been committed with its answer lost;
 * - a give-back that failed: a unit the node handed back (say its body could not be read while
 *   the database was away) stayed leased.
 *
 * Without this such units come back only when `queue.lease_time` (10 min) ends. The embedded
 * queue notes them and, on its next lease call (the connection is back), returns them.
 *
 * A failed lease's token is retired after a successful return made at least `graceMs` after the
 * failure (a commit still in flight on the server when the client gave up lands within that), or
 * once its lease has ended anyway; a failed give-back after its first successful retry.
 */

/** The store calls that return leases (both guarded by the lease token). */
export interface LeaseReturner {
  returnLeaseTokens(tokens: string[], now: number): Promise<number>;
  returnLeases(units: { unitId: string; leaseToken: string }[], now: number): Promise<number>;
}

export class LostLeases {
  #failedAt = new Map<string, number>();
  #units = new Map<string, { unitId: string; leaseToken: string }>();
  #leaseMs: () => number;
  #graceMs: number;
  #log: (line: string) => void;

  constructor(options: { leaseMs: () => number; graceMs?: number; log?: (line: string) => void }) {
    this.#leaseMs = options.leaseMs;
    this.#graceMs = options.graceMs ?? 5_000;
    this.#log = options.log ?? (() => {});
  }

  /** How many failed lease calls and give-backs are still to be returned. */
  get size(): number {
    return this.#failedAt.size + this.#units.size;
  }

  /** A lease call with `token` failed: its grant may have been stored. */
  addLease(token: string, now: number): void {
    this.#failedAt.set(token, now);
  }

  /** Giving `units` back failed: they are still leased in the database. */
  addUnits(units: { unitId: string; leaseToken: string }[]): void {
    for (const u of units) {
      this.#units.set(u.unitId, { unitId: u.unitId, leaseToken: u.leaseToken });
    }
  }

  /**
   * Returns what is noted; a failure keeps it noted (the next call tries again). Resolves with
   * how many units came back.
   */
  async returnAll(store: LeaseReturner, now: number): Promise<number> {
    for (const [token, at] of this.#failedAt) {
      if (now - at >= this.#leaseMs()) this.#failedAt.delete(token); // due again by itself
    }
    let returned = 0;
    try {
      const tokens = [...this.#failedAt.keys()];
      if (tokens.length > 0) returned += await store.returnLeaseTokens(tokens, now);
      for (const token of tokens) {
        if (now - this.#failedAt.get(token)! >= this.#graceMs) this.#failedAt.delete(token);
      }
      const units = [...this.#units.values()];
      if (units.length > 0) returned += await store.returnLeases(units, now);
      for (const u of units) this.#units.delete(u.unitId);
    } catch {
      return returned;
    }
    if (returned > 0) {
      this.#log(`gave back ${returned} units leased while the database connection was cut`);
    }
    return returned;
  }
}
