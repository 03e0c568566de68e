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
 * Reads config: delivery.connect_timeout, command_timeout, max_hold; the shaping rule given.
 */
import type { Config } from "../config/mod.ts";
import type { TlsMode } from "../config/delivery_schema.ts";
import {
  type ClusterShaper,
  LocalShaper,
  type SendGrant,
  type SiteSlot,
} from "../cluster/shaping.ts";
import { admit, TokenBucket } from "./limits.ts";
import type { MxHost, RouteSettings } from "../routing/mx.ts";
import type { EffectiveRule } from "../routing/policy.ts";
import {
  ConnectionError,
  formatReply,
  type Reply,
  SmtpClientConnection,
  TlsError,
} from "./smtp_client.ts";
import type { Source } from "../routing/sources.ts";
import { mxMatchesPolicy } from "../routing/mta_sts.ts";

/** What TLS a delivery needs from its connection. */
export interface TlsNeeds {
  mode: TlsMode;
  /** MTA-STS enforce: the MX host must match one of these patterns (and TLS must verify). */
  stsMx?: readonly string[];
}

/** A connection in a pool, with what it was opened for. */
export interface PooledConnection {
  conn: SmtpClientConnection;
  path: EgressPath;
  mxName: string;
  address: string;
  /** Set while idle. */
  timer: ReturnType<typeof setTimeout> | null;
  /** The site's cluster slot this connection holds (null when the site has no cluster limit). */
  slot: SiteSlot | null;
}

/** Why one host could not be used. */
export interface HostProblem {
  host: string;
  address: string;
  stage: "connect" | "greeting" | "ehlo" | "starttls" | "tls" | "auth";
  reply: Reply | null;
  message: string;
  at: number;
  durationMs: number;
}

/** A borrowed connection, a hold, or the problems of every host tried. */
export type Acquired =
  | { kind: "ok"; pooled: PooledConnection; problems: HostProblem[] }
  | { kind: "held"; reason: "local_limit" | "cluster_limit"; until: number; why: string }
  | { kind: "failed"; problems: HostProblem[] };

/** A message admitted on a path, or held back. */
export type Admitted = { kind: "ok" } | {
  kind: "held";
  reason: "local_limit" | "cluster_limit" | "backoff";
  until: number;
  why: string;
};

/** How often a delivery asks again for a cluster slot while it may wait (`max_hold`). */
const CLUSTER_POLL_MS = 200;

/** One source IP × one site. */
export class EgressPath {
  readonly key: string;
  readonly source: Source;
  readonly site: string;
  open = 0;
  idle: PooledConnection[] = [];
  waiters: (() => void)[] = [];
  backoffUntil = 0;
  backoffReason = "";
  connectionBucket: TokenBucket | null = null;
  messageBuckets: TokenBucket[] = [];
  /** When the next unit held by the message rate is due (spreads a held backlog). */
  nextHoldSlot = 0;
  /** The same for units held by the site's cluster message rate. */
  nextClusterHoldSlot = 0;
  /** A delivery of this path is asking for a cluster slot (others wait behind it). */
  clusterAsking = false;
  /** The site's cluster slots were all taken when last asked: ask again only after this. */
  clusterFullUntil = 0;
  lastUsed = 0;

  constructor(source: Source, site: string) {
    this.source = source;
    this.site = site;
    this.key = `${source.ip ?? ""}|${site}`;
  }
}

function sameFamily(source: string | null, address: string): boolean {
  if (source === null) return true;
  return source.includes(":") === address.includes(":");
}

function satisfies(pooled: PooledConnection, needs: TlsNeeds): boolean {
  const tls = pooled.conn.tls;
  if (needs.stsMx) {
    return tls !== null && tls.verified && mxMatchesPolicy(pooled.mxName, needs.stsMx);
  }
  if (needs.mode === "verify") return tls !== null && tls.verified;
  if (needs.mode === "required") return tls !== null;
  return true;
}

/** Options for opening connections on a path. */
export interface ConnectOptions {
  hosts: MxHost[];
  helo: string;
  tls: TlsNeeds;
  route?: RouteSettings;
  /** Trusted CAs for `verify` (roots plus `delivery.tls_ca_file`). */
  ca?: string[];
}

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
  async admitMessage(path: EgressPath, rule: EffectiveRule): Promise<Admitted> {
    const now = Date.now();
    if (path.backoffUntil > now) {
      return {
        kind: "held",
        reason: "backoff",
        until: path.backoffUntil,
        why: `${path.key} in backoff: ${path.backoffReason}`,
      };
    }
    if (rule.messageRates.length > 0) {
      rule.messageRates.forEach((rate, i) => {
        const bucket = path.messageBuckets[i];
        if (bucket) bucket.configure(rate);
        else path.messageBuckets[i] = new TokenBucket(rate, now);
      });
      path.messageBuckets.length = rule.messageRates.length;
      const admission = admit(path.messageBuckets, now, this.#config.delivery.max_hold);
      if (admission.kind === "later") {
        // Held units come back one token interval apart, not all at the first token (which
        // would lease and hold the whole backlog again for each message sent).
        const interval = Math.max(...rule.messageRates.map((r) => r.per / r.count));
        const until = Math.max(admission.at, path.nextHoldSlot);
        path.nextHoldSlot = until + interval;
        return { kind: "held", reason: "local_limit", until, why: `message rate of ${path.key}` };
      }
      if (admission.kind === "wait") await sleep(admission.ms);
    }
    if (rule.clusterMessageRate) return await this.#admitCluster(path, rule);
    return { kind: "ok" };
  }

  /**
   * One send of the site's cluster-wide budget (fixed windows of the rate's duration): now, or
   * after waiting for the next window when it starts within `delivery.max_hold`; else held.
   */
  async #admitCluster(path: EgressPath, rule: EffectiveRule): Promise<Admitted> {
    const rate = rule.clusterMessageRate!;
    const budget = { limit: rate.count, windowMs: rate.per };
    let grant: SendGrant;
    try {
      grant = await this.#shaper.takeSends(path.site, 1, budget);
      if (!grant.ok && grant.retryAt - Date.now() <= this.#config.delivery.max_hold) {
        // Just after the edge, spread, so that the deliveries waiting do not all ask at once.
        const jitter = Math.random() * Math.min(100, rate.per / 10);
        await sleep(Math.max(0, grant.retryAt - Date.now()) + jitter);
        grant = await this.#shaper.takeSends(path.site, 1, budget);
      }
    } catch (error) {
      return {
        kind: "held",
        reason: "cluster_limit",
        until: Date.now() + rule.localLimitDelay,
        why: `cannot read the cluster message rate of ${path.site}: ${(error as Error).message}`,
      };
    }
    if (grant.ok) return { kind: "ok" };
    // Held units come back one send interval apart (as for the message rate above).
    const until = Math.max(grant.retryAt, path.nextClusterHoldSlot);
    path.nextClusterHoldSlot = until + rate.per / rate.count;
    return {
      kind: "held",
      reason: "cluster_limit",
      until,
      why: `cluster message rate of ${path.site}`,
    };
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
      // Most recently used first, so that spare connections idle out.
      for (let i = path.idle.length - 1; i >= 0; i--) {
        const pooled = path.idle[i];
        if (pooled.conn.closed || pooled.slot?.lost) {
          path.idle.splice(i, 1);
          if (pooled.timer) clearTimeout(pooled.timer);
          if (pooled.conn.closed) this.#closed(pooled);
          else pooled.conn.quit().then(() => this.#closed(pooled));
          continue;
        }
        if (!satisfies(pooled, options.tls)) continue;
        path.idle.splice(i, 1);
        if (pooled.timer) clearTimeout(pooled.timer);
        pooled.timer = null;
        return { kind: "ok", pooled, problems: [] };
      }
      const clusterFull = limit !== null &&
        (path.clusterAsking || path.clusterFullUntil > Date.now());
      if (path.open < rule.maxConnections && !clusterFull) {
        path.open++;
        if (limit === null) break;
        const asked = await this.#askSlot(path, limit, holder, options.tls);
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
          until: Date.now() + Math.round(rule.localLimitDelay * (1 + Math.random() / 2)),
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
          until: Date.now() + Math.round(rule.localLimitDelay * (1 + Math.random() / 2)),
          why: `${path.site}: all ${limit} cluster connection slots taken`,
        });
      }
      if (path.waiters.length >= rule.maxWaiting) {
        return leave({
          kind: "held",
          reason: path.open < rule.maxConnections ? "cluster_limit" : "local_limit",
          // Jittered so that a held batch does not come back all at once.
          until: Date.now() + Math.round(rule.localLimitDelay * (1 + Math.random() / 2)),
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
    const problems: HostProblem[] = [];
    try {
      for (const host of options.hosts) {
        for (const address of host.addresses) {
          if (!sameFamily(path.source.ip, address)) continue;
          if (rule.connectionRate) {
            const now = Date.now();
            if (!path.connectionBucket) {
              path.connectionBucket = new TokenBucket(rule.connectionRate, now);
            }
            path.connectionBucket.configure(rule.connectionRate);
            const admission = admit([path.connectionBucket], now, this.#config.delivery.max_hold);
            if (admission.kind === "later") {
              this.#giveBack(path, slot);
              if (problems.length > 0) return { kind: "failed", problems };
              return {
                kind: "held",
                reason: "local_limit",
                until: admission.at,
                why: `connection rate of ${path.key}`,
              };
            }
            if (admission.kind === "wait") await sleep(admission.ms);
          }
          const opened = await this.#open(path, host, address, options, problems);
          if (opened) {
            opened.slot = slot;
            holder.pooled = opened;
            return { kind: "ok", pooled: opened, problems };
          }
        }
      }
    } catch (error) {
      this.#giveBack(path, slot);
      throw error;
    }
    this.#giveBack(path, slot);
    if (problems.length === 0) {
      problems.push({
        host: options.hosts[0]?.name ?? "",
        address: "",
        stage: "connect",
        reply: null,
        message: `no address of the family of source ${path.source.ip}`,
        at: Date.now(),
        durationMs: 0,
      });
    }
    return { kind: "failed", problems };
  }

  /**
   * Asks for one of the site's `limit` cluster slots, again every CLUSTER_POLL_MS within
   * `delivery.max_hold` (one delivery per path asks; the others wait behind it) unless an idle
   * connection the delivery can use turns up. When no slot comes free, the path stops asking
   * for a moment so that its waiters are held at once.
   */
  async #askSlot(
    path: EgressPath,
    limit: number,
    holder: { pooled: PooledConnection | null },
    tls: TlsNeeds,
  ): Promise<{ slot: SiteSlot } | { slot: null; idle: boolean; why: string }> {
    path.clusterAsking = true;
    const deadline = Date.now() + this.#config.delivery.max_hold;
    const onLost = () => {
      if (holder.pooled) this.#slotLost(holder.pooled);
    };
    try {
      while (true) {
        const slot = await this.#shaper.acquireConnection(path.site, limit, onLost);
        if (slot) return { slot };
        if (path.idle.some((p) => !p.conn.closed && satisfies(p, tls))) {
          return { slot: null, idle: true, why: "" };
        }
        if (Date.now() + CLUSTER_POLL_MS > deadline) break;
        await sleep(CLUSTER_POLL_MS);
      }
      path.clusterFullUntil = Date.now() + CLUSTER_POLL_MS;
      return {
        slot: null,
        idle: false,
        why: `${path.site}: all ${limit} cluster connection slots taken`,
      };
    } catch (error) {
      path.clusterFullUntil = Date.now() + CLUSTER_POLL_MS;
      return {
        slot: null,
        idle: false,
        why: `cannot take a cluster connection slot for ${path.site}: ${(error as Error).message}`,
      };
    } finally {
      path.clusterAsking = false;
    }
  }

  /** A connection's cluster slot was lost: an idle one closes now, a busy one after its use. */
  #slotLost(pooled: PooledConnection) {
    const index = pooled.path.idle.indexOf(pooled);
    if (index < 0) return; // Busy: `release` closes it.
    pooled.path.idle.splice(index, 1);
    if (pooled.timer) clearTimeout(pooled.timer);
    pooled.conn.quit().then(() => this.#closed(pooled));
  }

  /** Opens, greets, negotiates TLS and authenticates; records a problem and returns null. */
  async #open(
    path: EgressPath,
    host: MxHost,
    address: string,
    options: ConnectOptions,
    problems: HostProblem[],
  ): Promise<PooledConnection | null> {
    const mode = options.tls.stsMx ? "verify" : options.tls.mode;
    const first = await this.#openOnce(path, host, address, options, mode, problems);
    if (first !== "tls_failed") return first;
    // Opportunistic TLS that fails in the handshake: try once more in plain text (as Postfix).
    if (mode !== "opportunistic") return null;
    const second = await this.#openOnce(path, host, address, options, "none", problems);
    return second === "tls_failed" ? null : second;
  }

  async #openOnce(
    path: EgressPath,
    host: MxHost,
    address: string,
    options: ConnectOptions,
    mode: TlsMode,
    problems: HostProblem[],
  ): Promise<PooledConnection | null | "tls_failed"> {
    const started = Date.now();
    const problem = (stage: HostProblem["stage"], reply: Reply | null, message: string) => {
      problems.push({
        host: host.name,
        address,
        stage,
        reply,
        message,
        at: Date.now(),
        durationMs: Date.now() - started,
      });
      return null;
    };
    const limits = this.#config.delivery;
    let conn: SmtpClientConnection;
    let greeting: Reply;
    try {
      ({ conn, greeting } = await SmtpClientConnection.open({
        host: address,
        port: host.port,
        localAddress: path.source.ip ?? undefined,
        connectTimeoutMs: limits.connect_timeout,
        commandTimeoutMs: limits.command_timeout,
      }));
    } catch (error) {
      if (!(error instanceof ConnectionError)) throw error;
      return problem("connect", null, error.message);
    }
    try {
      if (greeting.code !== 220) {
        await conn.quit();
        return problem("greeting", greeting, formatReply(greeting));
      }
      let hello = await conn.hello(options.helo);
      if (hello.code !== 250) {
        await conn.quit();
        return problem("ehlo", hello, formatReply(hello));
      }
      if (mode !== "none") {
        if (conn.capabilities.has("STARTTLS")) {
          const started = await conn.startTls({
            servername: host.name,
            verify: mode === "verify",
            ca: options.ca,
          });
          if (started.kind === "refused") {
            if (mode !== "opportunistic") {
              await conn.quit();
              return problem("starttls", started.reply, formatReply(started.reply));
            }
          } else {
            hello = await conn.hello(options.helo);
            if (hello.code !== 250) {
              await conn.quit();
              return problem("ehlo", hello, formatReply(hello));
            }
          }
        } else if (mode !== "opportunistic") {
          await conn.quit();
          return problem(
            "starttls",
            null,
            `TLS is ${mode} but ${host.name} does not offer STARTTLS`,
          );
        }
      }
      if (options.route?.auth) {
        const auth = await conn.authenticate(
          options.route.auth.username,
          options.route.auth.password,
        );
        if (auth.code !== 235) {
          await conn.quit();
          return problem("auth", auth, formatReply(auth));
        }
      }
    } catch (error) {
      conn.close();
      if (error instanceof TlsError) {
        problem("tls", null, error.message);
        return "tls_failed";
      }
      if (!(error instanceof ConnectionError)) throw error;
      return problem("connect", null, error.message);
    }
    return { conn, path, mxName: host.name.toLowerCase(), address, timer: null, slot: null };
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
    pooled.timer = setTimeout(() => {
      const index = path.idle.indexOf(pooled);
      if (index >= 0) {
        path.idle.splice(index, 1);
        conn.quit().then(() => this.#closed(pooled));
      }
    }, rule.idleTimeout);
    path.idle.push(pooled);
    path.waiters.shift()?.();
  }

  /** Closes a borrowed connection that broke (or must not be reused). */
  discard(pooled: PooledConnection) {
    pooled.conn.close();
    this.#closed(pooled);
  }

  /** The connection is gone: its cluster slot is given back, then its place on the path. */
  #closed(pooled: PooledConnection): Promise<void> {
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
