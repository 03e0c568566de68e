/**
 * Stored pauses, applied by the scheduler before dispatch: before any DNS lookup or connection,
 * a leased unit that a pause matches is settled as held (no attempt used, none logged), due
 * again when the pause ends or at `delivery.pause_recheck`, whichever is first, with a reason
 * naming the pause ("held by pause p-… (domain example.net) until …"). Each node re-reads the
 * `pauses` table when a config event says a pause changed (the broker's config fanout,
 * core/manage/broadcast.ts; cli/serve_queue.ts subscribes) and every second as the fallback, so
 * a pause added or removed by any node or the CLI applies cluster-wide at once; when a pause disappears (removed) or ends, the node makes
 * the units it holds due now, so they resume where they were (and at start, those held by pauses
 * removed while no node ran).
 *
 * A pause matches a unit when every criterion it sets matches: source `pool` (the message's
 * `pool`) or `vmta` (the message's `vmta`; the delivery workers also skip a paused vmta in every
 * pool, core/routing/source_pauses.ts), `domain` (exact, or `*.example.net` for its
 * subdomains), and `tag` (the message's `tag`, or its metadata's `tag`).
 *
 * Talks to: the store. Reads config: delivery.pause_recheck.
 */
import type { HeldOutcome, LeasedUnit } from "../contracts/mod.ts";
import type { PauseRecord, PauseStore, QueueSearchStore } from "../store/mod.ts";
import {
  domainMatches,
  heldByPrefix,
  type SourcePause,
  unitTagOf,
} from "../routing/source_pauses.ts";

/** How often the pauses are re-read. */
export const PAUSE_POLL_MS = 1_000;

/** The tag a unit's message carries: `meta.tag`, else its metadata's `tag`. */
export const unitTag = unitTagOf;

/** Whether pause `p` is in force at `now` and holds `unit`. */
export function pauseHolds(p: PauseRecord, unit: LeasedUnit, now: number): boolean {
  if (p.endsAt !== null && p.endsAt <= now) return false;
  // A site is known only after the MX lookup: the delivery workers hold for those pauses.
  if (p.site) return false;
  if (p.domain !== null && !domainMatches(p.domain, unit.domain)) return false;
  if (p.sourceKind !== null) {
    const value = unit.meta?.[p.sourceKind];
    if (value !== p.source) return false;
  }
  if (p.tag !== null && unitTag(unit.meta) !== p.tag) return false;
  return true;
}

/** "domain example.net, pool bulk" */
export function describePause(p: PauseRecord): string {
  const parts: string[] = [];
  if (p.sourceKind !== null) parts.push(`${p.sourceKind} ${p.source}`);
  if (p.domain !== null) parts.push(`domain ${p.domain}`);
  if (p.site) parts.push(`site ${p.site}`);
  if (p.tag !== null) parts.push(`tag ${p.tag}`);
  return parts.join(", ");
}

export { heldByPrefix };

/** The vmta and site pauses, as the delivery workers apply them (after routing). */
export function sourcePauses(pauses: readonly PauseRecord[]): SourcePause[] {
  const applies = (p: PauseRecord) =>
    (p.sourceKind === "vmta" && p.source !== null) || (p.site ?? null) !== null;
  return pauses.filter(applies).map((p) => ({
    id: p.id,
    source: p.sourceKind === "vmta" ? p.source : null,
    site: p.site ?? null,
    pool: p.sourceKind === "pool" ? p.source : null,
    domain: p.domain,
    tag: p.tag,
    endsAt: p.endsAt,
    why: `${describePause(p)}${p.reason ? `: ${p.reason}` : ""}`,
  }));
}

/** The held outcome of a unit pause `p` holds. */
function heldOutcome(
  unit: LeasedUnit,
  p: PauseRecord,
  now: number,
  recheckMs: number,
  node: string,
) {
  const until = Math.min(p.endsAt ?? Infinity, now + recheckMs);
  const outcome: HeldOutcome = {
    kind: "held",
    unitId: unit.unitId,
    messageId: unit.messageId,
    domain: unit.domain,
    leaseToken: unit.leaseToken,
    at: now,
    durationMs: 0,
    sourceIp: null,
    mxHost: null,
    remoteIp: null,
    tls: false,
    results: [],
    reason: "cluster_pause",
    until,
    why: `${heldByPrefix(p.id, node)}(${describePause(p)}) until ${
      p.endsAt === null ? "removed" : new Date(p.endsAt).toISOString()
    }${p.reason ? `: ${p.reason}` : ""}`,
  };
  return outcome;
}

/** Units held by pause `id` on `node` made due now, a page at a time; how many. */
export async function releaseHeldBy(
  store: Pick<QueueSearchStore, "searchUnits">,
  retryNow: (unitIds: string[]) => Promise<number>,
  id: string,
  node: string,
): Promise<number> {
  let released = 0;
  let after: string | undefined;
  for (;;) {
    const page = await store.searchUnits(
      { state: "paused", replyPrefix: heldByPrefix(id, node) },
      { after, limit: 500 },
    );
    if (page.length === 0) return released;
    released += await retryNow(page.map((u) => u.id));
    after = page[page.length - 1].id;
  }
}

/**
 * Units `node` held by pauses that are not in `live` (removed or ended while it was down) made
 * due now, a page at a time; how many.
 */
export async function releaseOrphans(
  store: Pick<QueueSearchStore, "searchUnits">,
  retryNow: (unitIds: string[]) => Promise<number>,
  live: ReadonlySet<string>,
  node: string,
): Promise<number> {
  let released = 0;
  let after: string | undefined;
  for (;;) {
    const page = await store.searchUnits(
      { state: "paused", replyPrefix: "held by pause " },
      { after, limit: 500 },
    );
    if (page.length === 0) return released;
    const orphans = page.filter((u) => {
      const match = /^held by pause (\S+) on (\S+) /.exec(u.last_reply ?? "");
      return match !== null && match[2] === node && !live.has(match[1]);
    });
    if (orphans.length > 0) released += await retryNow(orphans.map((u) => u.id));
    after = page[page.length - 1].id;
  }
}

/** What a gate needs around it. */
export interface PauseGateOptions {
  store: Pick<PauseStore, "listPauses">;
  /** `delivery.pause_recheck`, read at each hold (live). */
  recheckMs: () => number;
  /** This node's id, named in what it holds (it releases only that). */
  node: string;
  /** Makes the units a pause that ended or was removed holds due now. */
  release: (id: string) => Promise<number>;
  /** At start: makes units held by pauses not in force any more due now. */
  releaseOrphans?: (live: ReadonlySet<string>) => Promise<number>;
  /** How often the pauses are re-read besides config events ({@link PAUSE_POLL_MS}). */
  pollMs?: number;
  /** Called when the set of pauses read changed (the delivery workers get the vmta ones). */
  onChange?: (pauses: readonly PauseRecord[]) => void;
  log: (line: string) => void;
}

/** The node's view of the stored pauses, and the split of leased units by it. */
export class PauseGate {
  #options: PauseGateOptions;
  #pauses: PauseRecord[] = [];
  #timer: ReturnType<typeof setTimeout> | null = null;
  #stopped = false;
  #failing = false;
  #reloading: Promise<void> | null = null;
  #again = false;

  constructor(options: PauseGateOptions) {
    this.#options = options;
  }

  /** The pauses as last read. */
  get pauses(): readonly PauseRecord[] {
    return this.#pauses;
  }

  /**
   * Re-reads the pauses; releases what pauses gone or ended since the last read held. Calls
   * during a reload (an event and the poll at once) coalesce into one more, so a pause that is
   * over is released once.
   */
  reload(now?: number): Promise<void> {
    if (this.#reloading) {
      this.#again = true;
      return this.#reloading;
    }
    this.#reloading = (async () => {
      do {
        this.#again = false;
        await this.#reloadOnce(now ?? Date.now());
        now = undefined;
      } while (this.#again);
    })().finally(() => this.#reloading = null);
    return this.#reloading;
  }

  async #reloadOnce(now: number): Promise<void> {
    const { log } = this.#options;
    try {
      const next = await this.#options.store.listPauses();
      if (this.#failing) log("pauses: reading again");
      this.#failing = false;
      const inForce = new Set(
        next.filter((p) => p.endsAt === null || p.endsAt > now).map((p) => p.id),
      );
      const over = this.#pauses.filter((p) => !inForce.has(p.id));
      for (const p of next) {
        if (!this.#pauses.some((q) => q.id === p.id)) {
          log(`pause ${p.id} (${describePause(p)}) in force`);
        }
      }
      const changed = JSON.stringify(next) !== JSON.stringify(this.#pauses);
      this.#pauses = next;
      if (changed) this.#options.onChange?.(next);
      for (const p of over) {
        const released = await this.#options.release(p.id);
        log(`pause ${p.id} (${describePause(p)}) over: ${released} units due again`);
      }
    } catch (error) {
      if (!this.#failing) log(`pauses: cannot read them: ${(error as Error).message}`);
      this.#failing = true;
    }
  }

  /**
   * Reads the pauses now and then every {@link PAUSE_POLL_MS}; first lets go what pauses
   * removed while no node ran still hold.
   */
  async start(): Promise<void> {
    await this.reload();
    const now = Date.now();
    const live = new Set(
      this.#pauses.filter((p) => p.endsAt === null || p.endsAt > now).map((p) => p.id),
    );
    const released = await this.#options.releaseOrphans?.(live).catch((error) => {
      this.#options.log(`pauses: cannot release orphaned holds: ${(error as Error).message}`);
      return 0;
    });
    if (released) {
      this.#options.log(`${released} units held by pauses no longer in force due again`);
    }
    this.#arm();
  }

  #arm() {
    if (this.#stopped) return;
    this.#timer = setTimeout(async () => {
      await this.reload();
      this.#arm();
    }, this.#options.pollMs ?? PAUSE_POLL_MS);
  }

  stop() {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
  }

  /** Splits leased units into those that go on and the held outcomes of those a pause holds. */
  split(units: LeasedUnit[], now = Date.now()): { pass: LeasedUnit[]; held: HeldOutcome[] } {
    if (this.#pauses.length === 0) return { pass: units, held: [] };
    const pass: LeasedUnit[] = [];
    const held: HeldOutcome[] = [];
    const recheck = this.#options.recheckMs();
    for (const unit of units) {
      const p = this.#pauses.find((p) => pauseHolds(p, unit, now));
      if (p) held.push(heldOutcome(unit, p, now, recheck, this.#options.node));
      else pass.push(unit);
    }
    return { pass, held };
  }
}

/** The gate of a node: pauses from `store`, releases through `queue` (live `config`). */
export function nodePauseGate(
  store: Pick<PauseStore, "listPauses"> & Pick<QueueSearchStore, "searchUnits">,
  queue: { retryNow(unitIds: string[]): Promise<number> },
  config: () => { nodeId: string; delivery: { pause_recheck: number } },
  log: (line: string) => void,
  onChange?: (pauses: readonly PauseRecord[]) => void,
): PauseGate {
  const node = config().nodeId;
  return new PauseGate({
    store,
    node,
    recheckMs: () => config().delivery.pause_recheck,
    release: (id) => releaseHeldBy(store, (ids) => queue.retryNow(ids), id, node),
    releaseOrphans: (live) => releaseOrphans(store, (ids) => queue.retryNow(ids), live, node),
    onChange,
    log,
  });
}
