/**
 * Cluster-wide shaping per site: limits that hold for all nodes together, kept in the shared
 * database. Per-node shaping (pools, per-host limits) stays in core/delivery; its pools ask this
 * hook before they open a connection to a site (`cluster_max_connections`) and before each
 * message (`cluster_message_rate`).
 *
 * - Connections: a site has `limit` numbered slots (`cluster_slots`, primary key site+slot). A
 *   node takes a free or expired slot with one conditional insert/update, holds it while its
 *   connection is open, renews it every `ttl / 6` and deletes it when the connection closes.
 *   Bound: at no instant does the database show more than `limit` holders. A holder whose
 *   renewal fails (database unreachable, or its slot was taken after expiry) or is not confirmed
 *   while half the lifetime remains gives the slot up more than `ttl / 3` before it can expire
 *   (`onLost`) and closes the connection after its current transaction; so the bound on open
 *   connections holds as long as node clocks agree within `s` and such a transaction ends within
 *   `ttl / 3 - s` (10 s - s with the default 30 s TTL). A node that dies keeps its slots until
 *   they expire (at most `ttl` of under-use). Lowering the limit lets higher slots run out.
 * - Rate: sends per site in fixed windows aligned to the epoch (`cluster_rate`). Each grant is one
 *   conditional increment (`used + n <= limit`), atomic on every SQL dialect. Bound: at most
 *   `limit` per window exactly; any sliding interval of one window length may see up to
 *   `2 × limit` (the end of one window and the start of the next); node clock skew moves a
 *   node's window edges by its skew.
 * - One node (no RabbitMQ, or SQLite): {@link LocalShaper} keeps the same limits in memory.
 *
 * Talks to: the store (cluster_slots, cluster_rate).
 */
import type { ClusterLimitStore } from "../store/mod.ts";

/** One held connection slot. */
export interface SiteSlot {
  readonly site: string;
  readonly slot: number;
  readonly holder: string;
  /** True once the slot could not be renewed: close the connection. */
  readonly lost: boolean;
}

/** The answer to a send request. */
export type SendGrant = { ok: true } | { ok: false; retryAt: number };

/** The hook delivery calls for cluster-wide limits. */
export interface ClusterShaper {
  /** Takes one of the site's `limit` connection slots, or null when all are held. */
  acquireConnection(
    site: string,
    limit: number,
    onLost?: (slot: SiteSlot) => void,
  ): Promise<SiteSlot | null>;
  /** Gives a slot back (the connection closed). */
  releaseConnection(slot: SiteSlot): Promise<void>;
  /** Takes `n` sends from the site's budget of `limit` per `windowMs`. */
  takeSends(site: string, n: number, rate: { limit: number; windowMs: number }): Promise<SendGrant>;
  close(): Promise<void>;
}

/**
 * One node (no RabbitMQ, or SQLite, which is no server other nodes share): the "cluster" is this
 * node, and its limits are kept in memory. Exact for the node because every site is delivered
 * by one delivery worker of the node (core/schedule/dispatch.ts): that worker's shaper sees all
 * of the node's connections and sends to the site.
 */
export class LocalShaper implements ClusterShaper {
  #open = new Map<string, Set<string>>();
  #windows = new Map<string, { start: number; windowMs: number; used: number }>();
  #next = 0;

  acquireConnection(site: string, limit: number): Promise<SiteSlot | null> {
    let holders = this.#open.get(site);
    if (!holders) this.#open.set(site, holders = new Set());
    if (holders.size >= limit) return Promise.resolve(null);
    const holder = `local/${++this.#next}`;
    holders.add(holder);
    return Promise.resolve({ site, slot: holders.size - 1, holder, lost: false });
  }

  releaseConnection(slot: SiteSlot): Promise<void> {
    const holders = this.#open.get(slot.site);
    if (holders?.delete(slot.holder) && holders.size === 0) this.#open.delete(slot.site);
    return Promise.resolve();
  }

  takeSends(
    site: string,
    n: number,
    rate: { limit: number; windowMs: number },
  ): Promise<SendGrant> {
    const now = Date.now();
    const start = Math.floor(now / rate.windowMs) * rate.windowMs;
    let window = this.#windows.get(site);
    if (!window || window.start !== start || window.windowMs !== rate.windowMs) {
      if (this.#windows.size > 10_000) this.#prune(now);
      this.#windows.set(site, window = { start, windowMs: rate.windowMs, used: 0 });
    }
    if (window.used + n > rate.limit) {
      return Promise.resolve({ ok: false, retryAt: start + rate.windowMs });
    }
    window.used += n;
    return Promise.resolve({ ok: true });
  }

  #prune(now: number) {
    for (const [site, w] of this.#windows) {
      if (w.start + w.windowMs <= now) this.#windows.delete(site);
    }
  }

  close(): Promise<void> {
    this.#open.clear();
    this.#windows.clear();
    return Promise.resolve();
  }
}

/**
 * The key a site is stored under: the site itself, or (for a site longer than the column allows,
 * e.g. many MX hosts) its first 180 characters and a 64-bit hash of the whole.
 */
export function siteKey(site: string): string {
  if (site.length <= 200) return site;
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ site.length;
  for (let i = 0; i < site.length; i++) {
    const c = site.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  const hex = (x: number) => (x >>> 0).toString(16).padStart(8, "0");
  return `${site.slice(0, 180)}#${hex(a)}${hex(b)}`;
}

interface HeldSlot {
  site: string;
  slot: number;
  holder: string;
  lost: boolean;
  onLost?: (slot: SiteSlot) => void;
  /** When the row expires, as last written by this node (its clock). */
  expiresAt: number;
}

/** Options for {@link SqlShaper}. */
export interface SqlShaperOptions {
  /** Identifies this node (or worker) in holder names. */
  owner: string;
  /** Slot lifetime without renewal (default 30 s). */
  ttlMs?: number;
  log?: (line: string) => void;
}

/** Longest rate window (`cluster_message_rate`, checked by the config schema). */
export const MAX_RATE_WINDOW_MS = 86_400_000;
/** Windows that ended this long ago are deleted (`prune`), with an hour for clock skew. */
const RATE_KEEP_MS = MAX_RATE_WINDOW_MS + 3_600_000;
const PRUNE_EVERY_MS = 600_000;

/** Cluster-wide limits in the shared database. */
export class SqlShaper implements ClusterShaper {
  #store: ClusterLimitStore;
  #owner: string;
  #ttlMs: number;
  #log: (line: string) => void;
  #held = new Map<string, HeldSlot>();
  #timer: ReturnType<typeof setInterval>;
  #renewing = false;
  #ratesUsed = false;
  #prunedAt = Date.now();

  constructor(store: ClusterLimitStore, options: SqlShaperOptions) {
    this.#store = store;
    this.#owner = options.owner;
    this.#ttlMs = options.ttlMs ?? 30_000;
    this.#log = options.log ?? (() => {});
    this.#timer = setInterval(() => this.#tick(), Math.max(50, this.#ttlMs / 6));
  }

  async acquireConnection(
    site: string,
    limit: number,
    onLost?: (slot: SiteSlot) => void,
  ): Promise<SiteSlot | null> {
    site = siteKey(site);
    const now = Date.now();
    const rows = await this.#store.siteSlots(site, limit);
    const taken = new Map(rows.map((r) => [r.slot, r.expiresAt]));
    const free: number[] = [];
    const expired: number[] = [];
    for (let slot = 0; slot < limit; slot++) {
      const expires = taken.get(slot);
      if (expires === undefined) free.push(slot);
      else if (expires < now) expired.push(slot);
    }
    const holder = `${this.#owner}/${crypto.randomUUID().slice(0, 8)}`;
    const expiresAt = now + this.#ttlMs;
    for (const slot of shuffle(free)) {
      // False: taken meanwhile by another node; try the next one.
      if (await this.#store.insertSlot({ site, slot, holder, expiresAt })) {
        return this.#hold({ site, slot, holder, lost: false, onLost, expiresAt });
      }
    }
    for (const slot of shuffle(expired)) {
      if (await this.#store.takeExpiredSlot({ site, slot, holder, expiresAt }, now)) {
        return this.#hold({ site, slot, holder, lost: false, onLost, expiresAt });
      }
    }
    return null;
  }

  #tick() {
    this.renew().catch((error) => this.#log(`cluster slot renewal: ${error.message}`));
    // Old rate windows are deleted by the nodes that use rates, every 10 minutes.
    if (this.#ratesUsed && Date.now() - this.#prunedAt >= PRUNE_EVERY_MS) {
      this.#ratesUsed = false;
      this.#prunedAt = Date.now();
      this.prune(RATE_KEEP_MS).catch((error) =>
        this.#log(`cannot delete old cluster rate windows: ${error.message}`)
      );
    }
  }

  #hold(slot: HeldSlot): SiteSlot {
    this.#held.set(slot.holder, slot);
    return slot;
  }

  async releaseConnection(slot: SiteSlot): Promise<void> {
    this.#held.delete(slot.holder);
    await this.#store.deleteSlot(slot);
  }

  /**
   * Extends every held slot (every `ttl / 6`); marks (and reports) the ones this node no longer
   * holds. A slot with no confirmed renewal while more than half its lifetime remained (the
   * database hangs) is given up too, without waiting for the statement: since this runs every
   * `ttl / 6`, that is more than `ttl / 3` before the row can expire for the other nodes.
   */
  async renew(): Promise<void> {
    const overdue = Date.now() + this.#ttlMs / 2;
    for (const slot of [...this.#held.values()]) {
      if (slot.expiresAt <= overdue) this.#lose(slot, "not renewed in time");
    }
    if (this.#renewing) return;
    this.#renewing = true;
    const held = [...this.#held.values()];
    try {
      if (held.length === 0) return;
      const still = new Set<string>();
      for (let i = 0; i < held.length; i += 500) {
        const holders = held.slice(i, i + 500).map((h) => h.holder);
        const expiresAt = Date.now() + this.#ttlMs;
        for (const holder of await this.#store.renewSlots(holders, expiresAt)) {
          still.add(holder);
          const slot = this.#held.get(holder);
          if (slot) slot.expiresAt = expiresAt;
        }
      }
      for (const slot of held) if (!still.has(slot.holder)) this.#lose(slot, "taken over");
    } catch (error) {
      // Cannot tell whether we still hold them: assume not, before they can expire.
      for (const slot of held) this.#lose(slot, (error as Error).message);
    } finally {
      this.#renewing = false;
    }
  }

  #lose(slot: HeldSlot, why: string) {
    if (!this.#held.delete(slot.holder)) return;
    slot.lost = true;
    this.#log(`lost connection slot ${slot.slot} of ${slot.site}: ${why}`);
    slot.onLost?.(slot);
  }

  async takeSends(
    site: string,
    n: number,
    rate: { limit: number; windowMs: number },
  ): Promise<SendGrant> {
    site = siteKey(site);
    this.#ratesUsed = true;
    const now = Date.now();
    const window = Math.floor(now / rate.windowMs) * rate.windowMs;
    const refused: SendGrant = { ok: false, retryAt: window + rate.windowMs };
    if (n > rate.limit) return refused;
    for (let tries = 0; tries < 2; tries++) {
      if (await this.#store.addSends(site, window, n, rate.limit)) return { ok: true };
      if (await this.#store.rateWindowExists(site, window)) return refused;
      // False: another node opened the window first; count against its row.
      if (await this.#store.openRateWindow(site, window, n)) return { ok: true };
    }
    return refused;
  }

  /** Deletes rate windows that started more than `keepMs` ago (keep the longest window). */
  async prune(keepMs = RATE_KEEP_MS): Promise<void> {
    await this.#store.pruneRateWindows(Date.now() - keepMs);
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    const held = [...this.#held.values()];
    this.#held.clear();
    for (const slot of held) await this.releaseConnection(slot).catch(() => {});
  }
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
