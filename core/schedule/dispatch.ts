/**
 * Site dispatch: sends each leased unit to the delivery worker that owns its destination *site*
 * (hash of the site key), so that all connections and limits of one (source IP, site) live in
 * one worker and per-site limits hold exactly within a node. The destination is resolved here
 * (cached by DNS TTL, one lookup per domain in flight) and handed to the worker with the unit.
 * With one worker there is nothing to choose and the worker resolves for itself.
 *
 * Isolation (docs/quarantine.md): a batch that cannot be posted (say a unit whose metadata is
 * too deep to clone) is posted again unit by unit, so only the unit that fails alone is reported
 * as failed, its own fault; if even an empty batch cannot be posted, the worker is the trouble
 * and the whole batch is returned without counting against any unit.
 *
 * Talks to: DNS (through core/delivery/mx.ts). Reads config: dns.*, routes.
 */
import type { LeasedUnit } from "../queue/contracts.ts";
import type { Destination, MxResolver } from "../delivery/mx.ts";
import { faultDue, InjectedFault } from "../fault_points.ts";

/** Posts units (and their destinations by domain) to worker `index`; may throw. */
export type PostUnits = (
  index: number,
  units: LeasedUnit[],
  destinations: Record<string, Destination>,
) => void;

/** One unit that could not be dispatched, and what was thrown. */
export interface DispatchFailure {
  unit: LeasedUnit;
  error: unknown;
}

/**
 * Units that could not be dispatched: each its own failure, or (`batchWide`) all of them for a
 * reason that is not theirs (the worker cannot be posted to at all).
 */
export type DispatchFailed = (failures: DispatchFailure[], batchWide: boolean) => void;

/** FNV-1a, to spread sites over workers. */
export function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The key a destination is dispatched by: its site, or the domain when it has none. */
export function dispatchKey(domain: string, destination: Destination): string {
  return destination.kind === "hosts" ? destination.site : domain;
}

/** Routes leased units to delivery workers by site. */
export class SiteDispatcher {
  #resolver: MxResolver;
  #workers: () => number;
  #post: PostUnits;
  #failed: DispatchFailed;

  /** `failed` hears of units that could not be posted (default: none is ever reported). */
  constructor(
    resolver: MxResolver,
    workers: () => number,
    post: PostUnits,
    failed: DispatchFailed = () => {},
  ) {
    this.#resolver = resolver;
    this.#workers = workers;
    this.#post = post;
    this.#failed = failed;
  }

  /** Dispatches at once what resolves from cache; the rest when its lookup finishes. */
  dispatch(units: LeasedUnit[]) {
    const n = this.#workers();
    if (n <= 1) {
      this.#send(0, units, {});
      return;
    }
    const ready = new Map<
      number,
      { units: LeasedUnit[]; destinations: Record<string, Destination> }
    >();
    const waiting = new Map<string, LeasedUnit[]>();
    const now = Date.now();
    const broken: DispatchFailure[] = [];
    for (const unit of units) {
      let destination: Destination | undefined;
      try {
        destination = this.#resolver.cached(unit.domain, now);
      } catch (error) {
        broken.push({ unit, error });
        continue;
      }
      if (!destination) {
        let list = waiting.get(unit.domain);
        if (!list) waiting.set(unit.domain, list = []);
        list.push(unit);
        continue;
      }
      const index = hashKey(dispatchKey(unit.domain, destination)) % n;
      let batch = ready.get(index);
      if (!batch) ready.set(index, batch = { units: [], destinations: {} });
      batch.units.push(unit);
      batch.destinations[unit.domain] = destination;
    }
    if (broken.length > 0) this.#report(broken, false);
    for (const [index, batch] of ready) this.#send(index, batch.units, batch.destinations);
    for (const [domain, list] of waiting) {
      this.#resolver.resolve(domain).then(
        (destination) => {
          const index = hashKey(dispatchKey(domain, destination)) % this.#workers();
          this.#send(index, list, { [domain]: destination });
        },
        // Never lose units (the scheduler counts them in flight): the worker resolves itself.
        () => this.#send(hashKey(domain) % this.#workers(), list, {}),
      );
    }
  }

  /** Posts a batch; on failure unit by unit, reporting those that fail alone. Never throws. */
  #send(index: number, units: LeasedUnit[], destinations: Record<string, Destination>) {
    // TEST ONLY (core/fault_points.ts): units whose clone is to fail in this pass.
    const faulty = new Set(
      units.filter((u) => faultDue("dispatch", u.unitId)).map((u) => u.unitId),
    );
    try {
      this.#postChecked(index, units, destinations, faulty);
      return;
    } catch {
      // Below: find out whether one unit or the worker is at fault.
    }
    try {
      this.#post(index, [], {});
    } catch (error) {
      this.#report(units.map((unit) => ({ unit, error })), true);
      return;
    }
    const failures: DispatchFailure[] = [];
    for (const unit of units) {
      const destination = destinations[unit.domain];
      try {
        this.#postChecked(index, [unit], destination ? { [unit.domain]: destination } : {}, faulty);
      } catch (error) {
        failures.push({ unit, error });
      }
    }
    if (failures.length > 0) this.#report(failures, false);
  }

  #postChecked(
    index: number,
    units: LeasedUnit[],
    destinations: Record<string, Destination>,
    faulty: Set<string>,
  ) {
    const fault = faulty.size > 0 ? units.find((u) => faulty.has(u.unitId)) : undefined;
    if (fault) throw new InjectedFault("dispatch", fault.unitId);
    this.#post(index, units, destinations);
  }

  #report(failures: DispatchFailure[], batchWide: boolean) {
    try {
      this.#failed(failures, batchWide);
    } catch {
      // The handler logs for itself; a throw here must not escape into a lookup's promise.
    }
  }
}
