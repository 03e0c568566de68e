/**
 * Site dispatch: sends each leased unit to the delivery worker that owns its destination *site*
 * (hash of the site key), so that all connections and limits of one (source IP, site) live in
 * one worker and per-site limits hold exactly within a node. The destination is resolved here
 * (cached by DNS TTL, one lookup per domain in flight) and handed to the worker with the unit.
 * With one worker there is nothing to choose and the worker resolves for itself.
 *
 * Isolation (docs/quarantine.md, {@link postIsolated}): a batch that cannot be posted (say a
 * unit whose metadata is too deep to clone) is posted again unit by unit, so only the unit that
 * fails alone is reported as failed, its own fault; if even an empty batch cannot be posted, the
 * worker is the trouble and the whole batch goes back without counting against any unit.
 *
 * Talks to: DNS (through core/routing/mx.ts). Reads config: dns.*, routes.
 */
import type { LeasedUnit } from "../contracts/mod.ts";
import type { Destination, MxResolver } from "../routing/mx.ts";
import { faultDue, InjectedFault } from "../fault_points.ts";

/** Posts units (and their destinations by domain) to worker `index`. */
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

/** Units that could not be posted, each for a reason of its own. */
export type DispatchFailed = (failures: DispatchFailure[]) => void;

/**
 * Posts `units` in one message; if that throws, unit by unit, and reports those that fail
 * alone to `failed`. Throws when not even an empty batch can be posted: then the worker is the
 * trouble, not any unit, and the caller returns the whole batch (Scheduler.handOver does).
 */
export function postIsolated(
  units: LeasedUnit[],
  destinations: Record<string, Destination>,
  post: (units: LeasedUnit[], destinations: Record<string, Destination>) => void,
  failed: DispatchFailed,
): void {
  // TEST ONLY (core/fault_points.ts): units whose clone is to fail in this pass.
  const faulty = new Set(units.filter((u) => faultDue("dispatch", u.unitId)).map((u) => u.unitId));
  const postChecked = (batch: LeasedUnit[], wanted: Record<string, Destination>) => {
    const fault = faulty.size > 0 ? batch.find((u) => faulty.has(u.unitId)) : undefined;
    if (fault) throw new InjectedFault("dispatch", fault.unitId);
    post(batch, wanted);
  };
  try {
    postChecked(units, destinations);
    return;
  } catch {
    // Below: find out whether one unit or the worker is at fault.
  }
  post([], {}); // throws if the worker is the trouble
  const failures: DispatchFailure[] = [];
  for (const unit of units) {
    const destination = destinations[unit.domain];
    try {
      postChecked([unit], destination ? { [unit.domain]: destination } : {});
    } catch (error) {
      failures.push({ unit, error });
    }
  }
  if (failures.length > 0) failed(failures);
}

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

  constructor(resolver: MxResolver, workers: () => number, post: PostUnits) {
    this.#resolver = resolver;
    this.#workers = workers;
    this.#post = post;
  }

  /** Dispatches at once what resolves from cache; the rest when its lookup finishes. */
  dispatch(units: LeasedUnit[]) {
    const n = this.#workers();
    if (n <= 1) {
      this.#post(0, units, {});
      return;
    }
    const ready = new Map<
      number,
      { units: LeasedUnit[]; destinations: Record<string, Destination> }
    >();
    const waiting = new Map<string, LeasedUnit[]>();
    const now = Date.now();
    for (const unit of units) {
      const destination = this.#resolver.cached(unit.domain, now);
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
    for (const [index, batch] of ready) this.#post(index, batch.units, batch.destinations);
    for (const [domain, list] of waiting) {
      this.#resolver.resolve(domain).then(
        (destination) => {
          const index = hashKey(dispatchKey(domain, destination)) % this.#workers();
          this.#post(index, list, { [domain]: destination });
        },
        // Never lose units (the scheduler counts them in flight): the worker resolves itself.
        () => this.#post(hashKey(domain) % this.#workers(), list, {}),
      );
    }
  }
}
