/**
 * The hold watchdog: every unit this node has taken from the queue (leased) is tracked here,
 * with where it is ("dispatch": leased, not yet handed to a worker; "delivery-<n>": at that
 * delivery worker) and since when, until it is settled or returned. The scheduler counts its
 * in-flight units here, and checks periodically for units held longer than the hold bound
 * (`queue.lease_time`, docs/watchdog.md): those are reported with their ids and places, and
 * handed back to the caller to return to the queue.
 *
 * Pure bookkeeping: no timers of its own and an injectable clock, so tests drive it directly.
 */

/** Enough of a leased unit to name it and return it. */
export interface TakenRef {
  unitId: string;
  leaseToken: string;
}

/** A unit held by this node. */
export interface HeldUnit extends TakenRef {
  /** Where it is: "dispatch" or "delivery-<n>". */
  where: string;
  /** When it was taken (ms since the epoch). */
  since: number;
}

/** Options for a {@link Watchdog}. */
export interface WatchdogOptions {
  /** Longest a unit may be held before it is reported (ms). */
  boundMs: number;
  /** The clock (default Date.now). */
  now?: () => number;
}

/** How many unit ids one report names (the rest are counted). */
const REPORT_IDS = 20;

function keyOf(unit: TakenRef): string {
  return `${unit.unitId}\u0000${unit.leaseToken}`;
}

/** Tracks taken units and finds those held past the bound. */
export class Watchdog {
  readonly boundMs: number;
  #now: () => number;
  // Insertion order = taking order, so the oldest come first.
  #held = new Map<string, HeldUnit>();
  #reported = 0;

  constructor(options: WatchdogOptions) {
    this.boundMs = options.boundMs;
    this.#now = options.now ?? Date.now;
  }

  /** Units held now. */
  get size(): number {
    return this.#held.size;
  }

  /** Units reported as held past the bound since start. */
  get reported(): number {
    return this.#reported;
  }

  /** How long the oldest unit has been held (ms), 0 when none. */
  oldestMs(now = this.#now()): number {
    for (const unit of this.#held.values()) return Math.max(0, now - unit.since);
    return 0;
  }

  /** Records units just taken, at `where`. */
  take(units: TakenRef[], where: string) {
    const since = this.#now();
    for (const { unitId, leaseToken } of units) {
      // Delete first: a key set again must move to the end (the map stays in taking order).
      this.#held.delete(keyOf({ unitId, leaseToken }));
      this.#held.set(keyOf({ unitId, leaseToken }), { unitId, leaseToken, where, since });
    }
  }

  /** Moves units to `where`; returns those still held (the others were returned meanwhile). */
  move<T extends TakenRef>(units: T[], where: string): T[] {
    const still: T[] = [];
    for (const unit of units) {
      const held = this.#held.get(keyOf(unit));
      if (!held) continue;
      held.where = where;
      still.push(unit);
    }
    return still;
  }

  /** Where a unit is, null when it is not held. */
  whereIs(unit: TakenRef): string | null {
    return this.#held.get(keyOf(unit))?.where ?? null;
  }

  /** Whether a unit is held. */
  holds(unit: TakenRef): boolean {
    return this.#held.has(keyOf(unit));
  }

  /**
   * Forgets finished units; returns how many were held. Without `unitIds` (an older worker
   * reporting tokens only) one unit per token is forgotten, the oldest of that lease.
   */
  finish(tokens: string[], unitIds?: string[]): number {
    let count = 0;
    for (let i = 0; i < tokens.length; i++) {
      const unitId = unitIds?.[i];
      if (unitId !== undefined) {
        if (this.#held.delete(keyOf({ unitId, leaseToken: tokens[i] }))) count++;
        continue;
      }
      for (const [key, unit] of this.#held) {
        if (unit.leaseToken !== tokens[i]) continue;
        this.#held.delete(key);
        count++;
        break;
      }
    }
    return count;
  }

  /** Every unit held, oldest first (for shutdown: they all go back). */
  all(): HeldUnit[] {
    return [...this.#held.values()];
  }

  /** Units held longer than the bound, oldest first. */
  overdue(now = this.#now()): HeldUnit[] {
    const out: HeldUnit[] = [];
    for (const unit of this.#held.values()) {
      if (now - unit.since <= this.boundMs) break; // the rest were taken later
      out.push(unit);
    }
    return out;
  }

  /**
   * Removes the units held past the bound and returns them with the report line naming them
   * (null when there are none); the caller logs the line and returns the units to the queue.
   */
  collectOverdue(now = this.#now()): { units: HeldUnit[]; line: string | null } {
    const units = this.overdue(now);
    if (units.length === 0) return { units, line: null };
    for (const unit of units) this.#held.delete(keyOf(unit));
    this.#reported += units.length;
    return { units, line: describeOverdue(units, this.boundMs, now) };
  }
}

/** "watchdog: 3 units held longer than 600000 ms, returned to the queue: m1.0 (delivery-0, 612 s), …". */
export function describeOverdue(
  units: Pick<HeldUnit, "unitId" | "where" | "since">[],
  boundMs: number,
  now: number,
): string {
  const named = units.slice(0, REPORT_IDS).map((u) =>
    `${u.unitId} (${u.where}, ${Math.round((now - u.since) / 1000)} s)`
  );
  const more = units.length > REPORT_IDS ? ` and ${units.length - REPORT_IDS} more` : "";
  return `watchdog: ${units.length} units held longer than ${boundMs} ms without an outcome, ` +
    `returned to the queue: ${named.join(", ")}${more}`;
}
