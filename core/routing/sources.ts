/**
 * Source IPs ("virtual MTAs") and their pools. Every outbound `ip_addressess` entry is a source
 * with its own EHLO hostname; it belongs to the pool named by its `group_id` ("default" without
 * one) and to every `delivery.pools` entry that lists it. Within a pool a source is picked by
 * smooth weighted round-robin (weights 1 give plain round-robin), skipping sources in backoff
 * for the destination site and sources that reached their daily cap (IP warm-up).
 *
 * Daily counts live in a SharedArrayBuffer so every delivery worker of a node counts against
 * the same cap; the main thread seeds them from today's `attempts` at start.
 *
 * Reads config: ip_addressess (outbound, group_id, weight, daily_cap), delivery.pools,
 * delivery.default_pool, smtp.hostname.
 */
import type { Config } from "../config/mod.ts";
import { ConfigError } from "../config/error.ts";

/** One source IP as a member of a pool. `ip` null means the OS chooses (no outbound IPs). */
export interface Source {
  ip: string | null;
  hostname: string;
  /** Index in `config.vmtas` (-1 for the OS default): the daily counter's slot. */
  index: number;
  weight: number;
  dailyCap: number | null;
}

/** Pools by name. */
export type Pools = Map<string, Source[]>;

/** Builds the pools; throws ConfigError for a pool member that is not an outbound IP. */
export function buildPools(config: Config): Pools {
  const pools: Pools = new Map();
  const add = (name: string, source: Source) => {
    let members = pools.get(name);
    if (!members) pools.set(name, members = []);
    if (!members.some((m) => m.ip === source.ip)) members.push(source);
  };
  if (config.vmtas.length === 0) {
    add("default", {
      ip: null,
      hostname: config.smtp.hostname,
      index: -1,
      weight: 1,
      dailyCap: null,
    });
  }
  config.vmtas.forEach((vmta, index) => {
    add(vmta.group, {
      ip: vmta.ip,
      hostname: vmta.hostname,
      index,
      weight: vmta.weight ?? 1,
      dailyCap: vmta.dailyCap ?? null,
    });
  });
  for (const [name, pool] of Object.entries(config.delivery.pools)) {
    for (const member of pool.ips) {
      const spec = typeof member === "string" ? { ip: member } : member;
      const index = config.vmtas.findIndex((v) => v.ip === spec.ip);
      if (index < 0) {
        throw new ConfigError(
          `Invalid configuration:\n  delivery.pools.${name}: "${spec.ip}" is not an outbound IP in ip_addressess`,
        );
      }
      const vmta = config.vmtas[index];
      add(name, {
        ip: vmta.ip,
        hostname: vmta.hostname,
        index,
        weight: spec.weight ?? vmta.weight ?? 1,
        dailyCap: spec.daily_cap ?? vmta.dailyCap ?? null,
      });
    }
  }
  const fallback = config.delivery.default_pool;
  if (fallback !== undefined && !pools.has(fallback)) {
    throw new ConfigError(
      `Invalid configuration:\n  delivery.default_pool: no pool named "${fallback}"`,
    );
  }
  for (const [i, rule] of config.delivery.pool_rules.entries()) {
    if (!pools.has(rule.pool)) {
      throw new ConfigError(
        `Invalid configuration:\n  delivery.pool_rules[${i}].pool: no pool named "${rule.pool}"`,
      );
    }
  }
  return pools;
}

/** The pool for mail no rule places: `delivery.default_pool`, else "default", else all sources. */
export function defaultPoolName(config: Config, pools: Pools): string {
  if (config.delivery.default_pool) return config.delivery.default_pool;
  if (pools.has("default")) return "default";
  return "*";
}

const DAY = 86_400_000;

/** Messages sent per source IP today, shared between threads. */
export class DailyCounters {
  readonly buffer: SharedArrayBuffer;
  #counts: Int32Array;

  /** Wraps `buffer` (from another thread) or makes a new one for `size` sources. */
  constructor(bufferOrSize: SharedArrayBuffer | number) {
    this.buffer = typeof bufferOrSize === "number"
      ? new SharedArrayBuffer(4 * (bufferOrSize + 1))
      : bufferOrSize;
    this.#counts = new Int32Array(this.buffer);
  }

  #roll(now: number) {
    const today = Math.floor(now / DAY);
    const stored = Atomics.load(this.#counts, 0);
    if (stored === today) return;
    if (Atomics.compareExchange(this.#counts, 0, stored, today) === stored) {
      for (let i = 1; i < this.#counts.length; i++) Atomics.store(this.#counts, i, 0);
    }
  }

  /** Messages sent today from the source at `index`. */
  get(index: number, now = Date.now()): number {
    if (index < 0 || index + 1 >= this.#counts.length) return 0;
    this.#roll(now);
    return Atomics.load(this.#counts, index + 1);
  }

  /** Counts `n` messages sent from the source at `index`. */
  add(index: number, n = 1, now = Date.now()) {
    if (index < 0 || index + 1 >= this.#counts.length) return;
    this.#roll(now);
    Atomics.add(this.#counts, index + 1, n);
  }

  /** When today's counts start again (next UTC midnight). */
  static nextDay(now: number): number {
    return (Math.floor(now / DAY) + 1) * DAY;
  }
}

/** Why no source could be picked. */
export type NoSource =
  | { kind: "backoff"; until: number }
  | { kind: "daily_cap"; until: number }
  /** Every other source is out and at least one is paused (core/routing/source_pauses.ts). */
  | { kind: "paused" }
  | { kind: "empty" };

/** Picks sources within pools by smooth weighted round-robin. */
export class SourceSelector {
  #pools: Pools;
  #counters: DailyCounters;
  #current = new Map<string, Map<Source, number>>();
  readonly defaultPool: string;

  constructor(config: Config, counters: DailyCounters, pools: Pools = buildPools(config)) {
    this.#pools = pools;
    this.#counters = counters;
    this.defaultPool = defaultPoolName(config, pools);
  }

  /** The members of `pool` (every source for "*"); an unknown pool gives the default pool's. */
  members(pool: string): Source[] {
    if (pool === "*") {
      const all = new Map<string | null, Source>();
      for (const members of this.#pools.values()) for (const m of members) all.set(m.ip, m);
      return [...all.values()];
    }
    return this.#pools.get(pool) ??
      this.members(this.defaultPool === pool ? "*" : this.defaultPool);
  }

  /** Whether `pool` is a known pool name. */
  has(pool: string): boolean {
    return this.#pools.has(pool);
  }

  /**
   * Picks the next source of `pool`. `backoffUntil` says until when a source is in backoff for
   * the site at hand (0 when it is not).
   */
  pick(
    pool: string,
    backoffUntil: (source: Source) => number,
    now = Date.now(),
    paused: (source: Source) => boolean = () => false,
  ): Source | NoSource {
    const members = this.members(pool);
    if (members.length === 0) return { kind: "empty" };
    let earliestBackoff = Infinity;
    let capped = false;
    let anyPaused = false;
    const eligible: Source[] = [];
    for (const m of members) {
      if (m.weight <= 0) continue;
      if (paused(m)) {
        anyPaused = true;
        continue;
      }
      const until = backoffUntil(m);
      if (until > now) {
        earliestBackoff = Math.min(earliestBackoff, until);
        continue;
      }
      if (m.dailyCap !== null && this.#counters.get(m.index, now) >= m.dailyCap) {
        capped = true;
        continue;
      }
      eligible.push(m);
    }
    if (eligible.length === 0) {
      // A pause is the operator's word: held until it ends, not retried as a backoff.
      if (anyPaused && earliestBackoff === Infinity && !capped) return { kind: "paused" };
      if (earliestBackoff < Infinity && (!capped || earliestBackoff < DailyCounters.nextDay(now))) {
        return { kind: "backoff", until: earliestBackoff };
      }
      if (capped) return { kind: "daily_cap", until: DailyCounters.nextDay(now) };
      return { kind: "empty" };
    }
    if (eligible.length === 1) return eligible[0];
    let current = this.#current.get(pool);
    if (!current) this.#current.set(pool, current = new Map());
    let total = 0;
    let best: Source | null = null;
    let bestWeight = -Infinity;
    for (const m of eligible) {
      const w = (current.get(m) ?? 0) + m.weight;
      current.set(m, w);
      total += m.weight;
      if (w > bestWeight) {
        bestWeight = w;
        best = m;
      }
    }
    current.set(best!, bestWeight - total);
    return best!;
  }

  /** Counts `n` messages (-1 gives one back) sent from `source` against its daily cap. */
  count(source: Source, n = 1, now = Date.now()) {
    if (source.dailyCap !== null) this.#counters.add(source.index, n, now);
  }
}
