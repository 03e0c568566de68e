/**
 * Cluster-wide shaping per site: limits that hold for all nodes together, kept in the shared
 * database. Per-node shaping (pools, per-host limits) stays in core/delivery; a delivery asks
 * this hook before it opens a connection to a site and before each send.
 *
 * - Connections: a site has `limit` numbered slots (`cluster_slots`, primary key site+slot). A
 *   node takes a free or expired slot with one conditional insert/update, holds it while its
 *   connection is open, renews it every `ttl / 3` and deletes it when the connection closes.
 *   Bound: at no instant does the database show more than `limit` holders. A holder that cannot
 *   renew (database unreachable, or its slot was taken after expiry) learns it at its next
 *   renewal, before the slot can expire, and must close the connection (`onLost`); so the bound
 *   holds as long as node clocks agree within `ttl / 3`. A node that dies keeps its slots until
 *   they expire (at most `ttl` of under-use). Lowering the limit lets higher slots run out.
 * - Rate: sends per site in fixed windows aligned to the epoch (`cluster_rate`). Each grant is one
 *   conditional increment (`used + n <= limit`), atomic on every SQL dialect. Bound: at most
 *   `limit` per window exactly; any sliding interval of one window length may see up to
 *   `2 × limit` (the end of one window and the start of the next); node clock skew moves a
 *   node's window edges by its skew.
 *
 * Talks to: the store (cluster_slots, cluster_rate).
 */
import type { Kysely } from "kysely";
import type { ClusterTables } from "./tables.ts";

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

/** Single node: no cluster-wide limits (per-node shaping in core/delivery is the whole story). */
export class LocalShaper implements ClusterShaper {
  acquireConnection(site: string): Promise<SiteSlot> {
    return Promise.resolve({ site, slot: 0, holder: "local", lost: false });
  }
  releaseConnection(): Promise<void> {
    return Promise.resolve();
  }
  takeSends(): Promise<SendGrant> {
    return Promise.resolve({ ok: true });
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

interface HeldSlot {
  site: string;
  slot: number;
  holder: string;
  lost: boolean;
  onLost?: (slot: SiteSlot) => void;
}

/** Options for {@link SqlShaper}. */
export interface SqlShaperOptions {
  /** Identifies this node (or worker) in holder names. */
  owner: string;
  /** Slot lifetime without renewal (default 30 s). */
  ttlMs?: number;
  log?: (line: string) => void;
}

/** Cluster-wide limits in the shared database. */
export class SqlShaper implements ClusterShaper {
  #db: Kysely<ClusterTables>;
  #owner: string;
  #ttlMs: number;
  #log: (line: string) => void;
  #held = new Map<string, HeldSlot>();
  #timer: ReturnType<typeof setInterval>;
  #renewing = false;

  constructor(db: Kysely<ClusterTables>, options: SqlShaperOptions) {
    this.#db = db;
    this.#owner = options.owner;
    this.#ttlMs = options.ttlMs ?? 30_000;
    this.#log = options.log ?? (() => {});
    this.#timer = setInterval(() => this.renew(), Math.max(50, this.#ttlMs / 3));
  }

  async acquireConnection(
    site: string,
    limit: number,
    onLost?: (slot: SiteSlot) => void,
  ): Promise<SiteSlot | null> {
    const now = Date.now();
    const rows = await this.#db.selectFrom("cluster_slots").select(["slot", "expires_at"])
      .where("site", "=", site).where("slot", "<", limit).execute();
    const taken = new Map(rows.map((r) => [Number(r.slot), Number(r.expires_at)]));
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
      try {
        await this.#db.insertInto("cluster_slots")
          .values({ site, slot, holder, expires_at: expiresAt }).execute();
        return this.#hold({ site, slot, holder, lost: false, onLost });
      } catch {
        // Taken meanwhile by another node: try the next one.
      }
    }
    for (const slot of shuffle(expired)) {
      const result = await this.#db.updateTable("cluster_slots")
        .set({ holder, expires_at: expiresAt })
        .where("site", "=", site).where("slot", "=", slot).where("expires_at", "<", now)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 1) {
        return this.#hold({ site, slot, holder, lost: false, onLost });
      }
    }
    return null;
  }

  #hold(slot: HeldSlot): SiteSlot {
    this.#held.set(slot.holder, slot);
    return slot;
  }

  async releaseConnection(slot: SiteSlot): Promise<void> {
    this.#held.delete(slot.holder);
    await this.#db.deleteFrom("cluster_slots")
      .where("site", "=", slot.site).where("slot", "=", slot.slot)
      .where("holder", "=", slot.holder).execute();
  }

  /** Extends every held slot; marks (and reports) the ones this node no longer holds. */
  async renew(): Promise<void> {
    if (this.#renewing) return;
    this.#renewing = true;
    const held = [...this.#held.values()];
    try {
      if (held.length === 0) return;
      const holders = held.map((h) => h.holder);
      const now = Date.now();
      await this.#db.updateTable("cluster_slots").set({ expires_at: now + this.#ttlMs })
        .where("holder", "in", holders).execute();
      const still = new Set(
        (await this.#db.selectFrom("cluster_slots").select("holder")
          .where("holder", "in", holders).execute()).map((r) => r.holder),
      );
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
    const now = Date.now();
    const window = Math.floor(now / rate.windowMs) * rate.windowMs;
    const refused: SendGrant = { ok: false, retryAt: window + rate.windowMs };
    if (n > rate.limit) return refused;
    for (let tries = 0; tries < 2; tries++) {
      const result = await this.#db.updateTable("cluster_rate")
        .set((eb) => ({ used: eb("used", "+", n) }))
        .where("site", "=", site).where("window_start", "=", window)
        .where((eb) => eb(eb("used", "+", n), "<=", rate.limit))
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 1) return { ok: true };
      const exists = await this.#db.selectFrom("cluster_rate").select("used")
        .where("site", "=", site).where("window_start", "=", window).executeTakeFirst();
      if (exists) return refused;
      try {
        await this.#db.insertInto("cluster_rate")
          .values({ site, window_start: window, used: n }).execute();
        return { ok: true };
      } catch {
        // Another node opened the window first: count against its row.
      }
    }
    return refused;
  }

  /** Deletes rate windows older than `keepMs`. */
  async prune(keepMs = 3_600_000): Promise<void> {
    await this.#db.deleteFrom("cluster_rate").where("window_start", "<", Date.now() - keepMs)
      .execute();
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
