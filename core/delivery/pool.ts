/**
 * Egress paths and their connection pools. An egress path is one source IP × one destination
 * site (KumoMTA's "ready queue"); every limit is counted per path: simultaneous connections,
 * connection rate, message rates, messages per connection, and backoff after a matching reply.
 *
 * A delivery first asks its path to admit one message (message rates, backoff), then borrows a
 * connection: an idle one that satisfies its TLS needs, else a free connection slot in which it
 * tries the destination's hosts in order, else it waits for a slot (at most `max_waiting`
 * deliveries wait per path). What cannot be had within `delivery.max_hold` comes back as
 * `held` with a time to try again, and the unit is deferred without using an attempt.
 *
 * Cluster-wide limits per site (`cluster_max_connections`, `cluster_message_rate`) come from the
 * cluster shaper (core/cluster/shaping.ts): a new connection also needs one of the site's
 * cluster slots, held until the connection is closed (a lost slot closes it after its current
 * transaction), and each admitted message one send of the site's cluster budget.
 *
 * In parts: egress_path.ts (the path's state), admission.ts (message and connection rates,
 * backoff, cluster budget), cluster_slots.ts (a site's cluster connection slots),
 * session_setup.ts (opening a session on the destination's hosts); this module holds the paths
 * and each path's connection places: borrowing, waiting, giving back.
 *
 * Reads config: delivery.connect_timeout, command_timeout, max_hold; the shaping rule given.
 */
import type { Config } from "../config/mod.ts";
import { type ClusterShaper, LocalShaper, type SiteSlot } from "../cluster/shaping.ts";
import { admitMessage, type Admitted } from "./admission.ts";
import { askClusterSlot } from "./cluster_slots.ts";
import { EgressPath, type PooledConnection, satisfies, type TlsNeeds } from "./egress_path.ts";
import type { EffectiveRule } from "../routing/policy.ts";
import {
  type ConnectOptions,
  type HostProblem,
  type Opened,
  openOnHosts,
} from "./session_setup.ts";
import type { Source } from "../routing/sources.ts";

export type { Admitted } from "./admission.ts";
export { EgressPath } from "./egress_path.ts";
export type { PooledConnection, TlsNeeds } from "./egress_path.ts";
export type { ConnectOptions, HostProblem } from "./session_setup.ts";

/** A borrowed connection, a hold, or the problems of every host tried. */
export type Acquired =
  | { kind: "ok"; pooled: PooledConnection; problems: HostProblem[] }
  | { kind: "held"; reason: "local_limit" | "cluster_limit"; until: number; why: string }
  | { kind: "failed"; problems: HostProblem[] };

/** Options for {@link ConnectionPools}. */
export interface ConnectionPoolsOptions {
  /** Cluster-wide limits per site (default: in memory, for this worker alone). */
  shaper?: ClusterShaper;
  log?: (line: string) => void;
}

/** All egress paths and connections of one delivery worker. */
export class ConnectionPools {
  #config: Config;
  #paths = new Map<string, EgressPath>();
  #shaper: ClusterShaper;
  #log: (line: string) => void;

  constructor(config: Config, options: ConnectionPoolsOptions = {}) {
    this.#config = config;
    this.#shaper = options.shaper ?? new LocalShaper();
    this.#log = options.log ?? (() => {});
  }

  /** The path for (source, site). */
  path(source: Source, site: string): EgressPath {
    const key = `${source.ip ?? ""}|${site}`;
    let path = this.#paths.get(key);
    if (!path) {
      if (this.#paths.size > 10_000) this.#sweep();
      this.#paths.set(key, path = new EgressPath(source, site));
    }
    path.lastUsed = Date.now();
    return path;
  }

  /** Until when (source, site) is in backoff (0: not). */
  backoffUntil(source: Source, site: string): number {
    return this.#paths.get(`${source.ip ?? ""}|${site}`)?.backoffUntil ?? 0;
  }

  /** Puts a path into backoff for `ms`. */
  backoff(path: EgressPath, ms: number, why: string) {
    const until = Date.now() + ms;
    if (until > path.backoffUntil) {
      path.backoffUntil = until;
      path.backoffReason = why;
    }
  }

  /** Forgets idle paths with nothing open (bounded memory for many sites). */
  #sweep() {
    const cutoff = Date.now() - 3_600_000;
    for (const [key, path] of this.#paths) {
      if (path.open === 0 && path.waiters.length === 0 && path.lastUsed < cutoff) {
        this.#paths.delete(key);
      }
    }
  }

  /**
   * Admits one message on `path` under the path's backoff, the rule's message rates and the
   * site's cluster message rate.
   */
  admitMessage(path: EgressPath, rule: EffectiveRule): Promise<Admitted> {
    return admitMessage(path, rule, this.#shaper, this.#config);
  }

  /**
   * Borrows a connection on `path` for a delivery under `rule`: idle and suitable, else newly
   * opened (hosts in order; with a cluster limit, once one of the site's cluster slots is
   * taken), else waits for a connection of the path; held when the wait would be unbounded or
   * no cluster slot came free within `delivery.max_hold`.
   */
  async acquire(path: EgressPath, rule: EffectiveRule, options: ConnectOptions): Promise<Acquired> {
    let waited = false;
    let slot: SiteSlot | null = null;
    // The connection the slot is for, once open (a lost slot closes it).
    const holder: { pooled: PooledConnection | null } = { pooled: null };
    const limit = rule.clusterMaxConnections;
    // A delivery that was woken and leaves without a connection passes the wake-up on.
    const leave = (held: Acquired): Acquired => {
      if (waited) path.waiters.shift()?.();
      return held;
    };
    while (true) {
      const idle = this.#takeIdle(path, options.tls);
      if (idle) return { kind: "ok", pooled: idle, problems: [] };
      const clusterFull = limit !== null &&
        (path.clusterAsking || path.clusterFullUntil > Date.now());
      if (path.open < rule.maxConnections && !clusterFull) {
        path.open++;
        if (limit === null) break;
        const asked = await askClusterSlot(path, {
          shaper: this.#shaper,
          config: this.#config,
          limit,
          tls: options.tls,
          onLost: () => {
            if (holder.pooled) this.#slotLost(holder.pooled);
          },
        });
        if (asked.slot) {
          slot = asked.slot;
          break;
        }
        if (asked.idle) {
          // A connection of the path came free meanwhile: take it (no wake-up: this one goes).
          path.open--;
          continue;
        }
        this.#release(path);
        return leave({
          kind: "held",
          reason: "cluster_limit",
          until: jitteredRetry(rule),
          why: asked.why,
        });
      }
      // Full of connections this delivery cannot use: close an idle one to make room.
      const unsuitable = path.idle.shift();
      if (unsuitable) {
        if (unsuitable.timer) clearTimeout(unsuitable.timer);
        await unsuitable.conn.quit();
        await this.#closed(unsuitable);
        continue;
      }
      if (path.open === 0) {
        // No connection of this path to wait for, and the cluster has no slot for a new one.
        return leave({
          kind: "held",
          reason: "cluster_limit",
          until: jitteredRetry(rule),
          why: `${path.site}: all ${limit} cluster connection slots taken`,
        });
      }
      if (path.waiters.length >= rule.maxWaiting) {
        return leave({
          kind: "held",
          reason: path.open < rule.maxConnections ? "cluster_limit" : "local_limit",
          until: jitteredRetry(rule),
          why: `${path.key}: ${path.open} connections busy and ${path.waiters.length} waiting`,
        });
      }
      // Waiting fairly: a waiter that was woken goes to the front if it must wait again.
      await new Promise<void>((resolve) =>
        waited ? path.waiters.unshift(resolve) : path.waiters.push(resolve)
      );
      waited = true;
    }
    // path.open counts this connection (and `slot` is its cluster slot) from here on.
    let opened: Opened;
    try {
      opened = await openOnHosts(path, rule, options, this.#config);
    } catch (error) {
      this.#giveBack(path, slot);
      throw error;
    }
    if (opened.kind !== "ok") {
      this.#giveBack(path, slot);
      return opened;
    }
    opened.pooled.slot = slot;
    holder.pooled = opened.pooled;
    return opened;
  }

  /**
   * Takes an idle connection of `path` that meets `tls`, most recently used first (so that
   * spare connections idle out); closes the broken ones and those whose slot was lost.
   */
  #takeIdle(path: EgressPath, tls: TlsNeeds): PooledConnection | null {
    for (let i = path.idle.length - 1; i >= 0; i--) {
      const pooled = path.idle[i];
      if (pooled.conn.closed || pooled.slot?.lost) {
        path.idle.splice(i, 1);
        if (pooled.timer) clearTimeout(pooled.timer);
        if (pooled.conn.closed) this.#closed(pooled);
        else pooled.conn.quit().then(() => this.#closed(pooled));
        continue;
      }
      if (!satisfies(pooled, tls)) continue;
      path.idle.splice(i, 1);
      // Its idle timer stays armed: it finds the connection busy and stops (#idleCheck).
      return pooled;
    }
    return null;
  }

  /** A connection's cluster slot was lost: an idle one closes now, a busy one after its use. */
  #slotLost(pooled: PooledConnection) {
    const index = pooled.path.idle.indexOf(pooled);
    if (index < 0) return; // Busy: `release` closes it.
    pooled.path.idle.splice(index, 1);
    if (pooled.timer) clearTimeout(pooled.timer);
    pooled.conn.quit().then(() => this.#closed(pooled));
  }

  /**
   * Gives a connection back after a delivery under `rule`: kept idle for reuse when healthy and
   * under the rule's message limit, else closed.
   */
  release(pooled: PooledConnection, rule: EffectiveRule) {
    const { conn, path } = pooled;
    if (
      conn.closed || conn.messagesSent >= rule.maxMessagesPerConnection || pooled.slot?.lost
    ) {
      // The slot frees once the connection is really closed.
      conn.quit().then(() => this.#closed(pooled));
      return;
    }
    pooled.idleUntil = Date.now() + rule.idleTimeout;
    this.#watchIdle(pooled);
    path.idle.push(pooled);
    path.waiters.shift()?.();
  }

  /** Arms the connection's idle timer to fire by its `idleUntil`, unless it already will. */
  #watchIdle(pooled: PooledConnection) {
    if (pooled.timer) {
      if (pooled.timerAt <= pooled.idleUntil) return;
      clearTimeout(pooled.timer);
    }
    pooled.timerAt = pooled.idleUntil;
    pooled.timer = setTimeout(
      () => this.#idleCheck(pooled),
      Math.max(0, pooled.idleUntil - Date.now()),
    );
  }

  /**
   * A connection's idle timer fired: closed when it has been idle for its whole idle timeout,
   * looked at again when it was used meanwhile, and left alone (unarmed until its next release)
   * while in use. One timer per idle period, where one per message cost a setTimeout and a
   * clearTimeout per delivery.
   */
  #idleCheck(pooled: PooledConnection) {
    pooled.timer = null;
    const index = pooled.path.idle.indexOf(pooled);
    if (index < 0) return;
    if (pooled.idleUntil > Date.now()) return this.#watchIdle(pooled);
    pooled.path.idle.splice(index, 1);
    pooled.conn.quit().then(() => this.#closed(pooled));
  }

  /** Closes a borrowed connection that broke (or must not be reused). */
  discard(pooled: PooledConnection) {
    pooled.conn.close();
    this.#closed(pooled);
  }

  /** The connection is gone: its cluster slot is given back, then its place on the path. */
  #closed(pooled: PooledConnection): Promise<void> {
    if (pooled.timer) clearTimeout(pooled.timer);
    pooled.timer = null;
    const slot = pooled.slot;
    pooled.slot = null;
    return this.#giveBack(pooled.path, slot);
  }

  /**
   * Frees a connection's place on `path`, after its cluster slot is given back (so that a
   * delivery woken for the place finds the slot free too).
   */
  #giveBack(path: EgressPath, slot: SiteSlot | null): Promise<void> {
    if (!slot) {
      this.#release(path);
      return Promise.resolve();
    }
    return this.#shaper.releaseConnection(slot).catch((error) => {
      // The slot expires by itself (cluster shaper TTL).
      this.#log(`delivery: cannot give back cluster slot of ${slot.site}: ${error.message}`);
    }).finally(() => this.#release(path));
  }

  #release(path: EgressPath) {
    path.open--;
    path.waiters.shift()?.();
  }

  /** Connections open per path (for status and tests). */
  stats(): { key: string; open: number; idle: number; waiting: number; backoffUntil: number }[] {
    return [...this.#paths.values()].map((p) => ({
      key: p.key,
      open: p.open,
      idle: p.idle.length,
      waiting: p.waiters.length,
      backoffUntil: p.backoffUntil,
    }));
  }

  /** Closes every idle connection (shutdown). */
  async closeAll(): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const path of this.#paths.values()) {
      for (const pooled of path.idle.splice(0)) {
        if (pooled.timer) clearTimeout(pooled.timer);
        closing.push(pooled.conn.quit().then(() => this.#closed(pooled)));
      }
    }
    await Promise.all(closing);
  }
}

/**
 * When a delivery held by a local or cluster limit tries again: jittered, so that a held batch
 * does not come back all at once.
 */
function jitteredRetry(rule: EffectiveRule): number {
  return Date.now() + Math.round(rule.localLimitDelay * (1 + Math.random() / 2));
}
