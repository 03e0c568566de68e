/**
 * Delivery policy, in one place: which pool a message leaves from, and which shaping rule (limits,
 * retry schedules, TLS, pause, backoff patterns) applies to a destination. Pure functions over
 * plain config objects; the mechanisms (pools, limiters, the SMTP client) only read the results.
 *
 * Shaping rules come from the config file (`delivery.shaping`) and the `shaping_rules` table; a
 * stored rule is laid over the file's rule for the same pattern, field by field. For a domain,
 * rules apply from general to specific: defaults → `*` → `*.suffix` (shorter suffix first) →
 * `mx:` patterns matching one of its MX hosts → the exact domain. `pool:NAME` rules pause pools.
 *
 * Reads config: delivery.* (defaults, shaping, pool_rules, pool_header, default_pool).
 */
import type { Config } from "../config/mod.ts";
import type { Rate, ShapingRule, TlsMode } from "../config/delivery_schema.ts";
import { domainOf } from "../mail/mod.ts";

/** A backoff pattern with its expression compiled. */
export interface BackoffRule {
  match: RegExp;
  duration: number;
  action: "backoff" | "switch_ip";
}

/** Every shaping setting resolved for one destination. */
export interface EffectiveRule {
  maxConnections: number;
  connectionRate: Rate | null;
  maxMessagesPerConnection: number;
  messageRates: Rate[];
  maxRecipientsPerTransaction: number;
  /** Connections to the site from the whole cluster (null: no cluster-wide limit). */
  clusterMaxConnections: number | null;
  /** Messages to the site from the whole cluster per fixed window (null: none). */
  clusterMessageRate: Rate | null;
  maxWaiting: number;
  retrySchedule: number[];
  connectRetrySchedule: number[];
  localLimitDelay: number;
  maxAge: number;
  idleTimeout: number;
  tls: TlsMode;
  mtaSts: boolean;
  paused: boolean;
  /** The patterns the rule was built from, most specific last (for logs). */
  sources: string[];
  backoff: BackoffRule[];
}

/** A stored rule as read from the database (validated when the policy is built). */
export interface StoredRule {
  pattern: string;
  rule: unknown;
}

/** A stored rule that passed the schema (core/routing/rule_check.ts). */
export interface CheckedRule {
  pattern: string;
  rule: ShapingRule;
}

function baseRule(config: Config): EffectiveRule {
  const d = config.delivery;
  return {
    maxConnections: d.max_connections_per_host,
    connectionRate: null,
    maxMessagesPerConnection: d.max_messages_per_connection,
    messageRates: [],
    maxRecipientsPerTransaction: 100,
    clusterMaxConnections: null,
    clusterMessageRate: null,
    maxWaiting: -1,
    retrySchedule: d.retry_schedule,
    connectRetrySchedule: d.connect_retry_schedule ?? d.retry_schedule,
    localLimitDelay: d.local_limit_delay,
    maxAge: d.max_age,
    idleTimeout: d.idle_timeout,
    tls: "opportunistic",
    mtaSts: d.mta_sts.enabled,
    paused: false,
    sources: [],
    backoff: [],
  };
}

function apply(target: EffectiveRule, pattern: string, rule: ShapingRule) {
  target.sources.push(pattern);
  if (rule.max_connections !== undefined) target.maxConnections = rule.max_connections;
  if (rule.connection_rate !== undefined) target.connectionRate = rule.connection_rate;
  if (rule.max_messages_per_connection !== undefined) {
    target.maxMessagesPerConnection = rule.max_messages_per_connection;
  }
  if (rule.message_rate !== undefined) {
    const r = rule.message_rate;
    target.messageRates = r === null ? [] : Array.isArray(r) ? r : [r];
  }
  if (rule.max_recipients_per_transaction !== undefined) {
    target.maxRecipientsPerTransaction = rule.max_recipients_per_transaction;
  }
  if (rule.cluster_max_connections !== undefined) {
    target.clusterMaxConnections = rule.cluster_max_connections;
  }
  if (rule.cluster_message_rate !== undefined) {
    target.clusterMessageRate = rule.cluster_message_rate;
  }
  if (rule.max_waiting !== undefined) target.maxWaiting = rule.max_waiting;
  if (rule.retry_schedule !== undefined) target.retrySchedule = rule.retry_schedule;
  if (rule.connect_retry_schedule !== undefined) {
    target.connectRetrySchedule = rule.connect_retry_schedule;
  }
  if (rule.local_limit_delay !== undefined) target.localLimitDelay = rule.local_limit_delay;
  if (rule.max_age !== undefined) target.maxAge = rule.max_age;
  if (rule.idle_timeout !== undefined) target.idleTimeout = rule.idle_timeout;
  if (rule.tls !== undefined) target.tls = rule.tls;
  if (rule.mta_sts !== undefined) target.mtaSts = rule.mta_sts;
  if (rule.paused !== undefined) target.paused = rule.paused;
  if (rule.backoff !== undefined) {
    target.backoff = rule.backoff.map((b) => ({
      match: new RegExp(b.match, "i"),
      duration: b.duration,
      action: b.action,
    }));
  }
}

/** `*` in an `mx:` pattern matches any characters (dots included). */
function globToRegExp(glob: string): RegExp {
  const escaped = glob.toLowerCase().replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*");
  return new RegExp(`^${escaped}$`);
}

/** The shaping rules in force: built once per rule change, cached per destination. */
export class ShapingPolicy {
  #config: Config;
  #rules = new Map<string, ShapingRule>();
  #suffixes: { suffix: string; pattern: string }[] = [];
  #mx: { re: RegExp; pattern: string }[] = [];
  #cache = new Map<string, EffectiveRule>();
  constructor(config: Config, stored: CheckedRule[] = []) {
    this.#config = config;
    for (const [pattern, rule] of Object.entries(config.delivery.shaping)) {
      this.#rules.set(pattern, rule);
    }
    for (const row of stored) {
      // Field by field over the file's rule for the same pattern.
      const fileRule = config.delivery.shaping[row.pattern];
      this.#rules.set(row.pattern, fileRule ? { ...fileRule, ...row.rule } : row.rule);
    }
    for (const pattern of this.#rules.keys()) {
      if (pattern.startsWith("*.")) {
        this.#suffixes.push({ suffix: pattern.slice(1).toLowerCase(), pattern });
      } else if (pattern.startsWith("mx:")) {
        this.#mx.push({ re: globToRegExp(pattern.slice(3)), pattern });
      }
    }
    this.#suffixes.sort((a, b) => a.suffix.length - b.suffix.length);
    this.#mx.sort((a, b) => a.pattern.length - b.pattern.length);
  }

  /** The rule for mail to `domain` whose MX hosts are `mxHosts`. */
  forDestination(domain: string, mxHosts: readonly string[] = []): EffectiveRule {
    const key = `${domain}|${mxHosts.join(",")}`;
    const cached = this.#cache.get(key);
    if (cached) return cached;
    const rule = baseRule(this.#config);
    const star = this.#rules.get("*");
    if (star) apply(rule, "*", star);
    const lower = domain.toLowerCase();
    for (const { suffix, pattern } of this.#suffixes) {
      if (lower.endsWith(suffix)) apply(rule, pattern, this.#rules.get(pattern)!);
    }
    for (const { re, pattern } of this.#mx) {
      if (mxHosts.some((h) => re.test(h))) apply(rule, pattern, this.#rules.get(pattern)!);
    }
    const exact = this.#rules.get(lower);
    if (exact) apply(rule, lower, exact);
    if (rule.maxWaiting < 0) rule.maxWaiting = 50 * rule.maxConnections;
    if (this.#cache.size > 50_000) this.#cache.clear();
    this.#cache.set(key, rule);
    return rule;
  }

  /** Whether mail from `pool` is paused (`pool:NAME` rule). */
  poolPaused(pool: string): boolean {
    return this.#rules.get(`pool:${pool}`)?.paused === true;
  }
}

/** What a pool choice looks at. Header names are lower-case. */
export interface PoolInputs {
  sender: string;
  /** Authenticated SMTP or API user, if any. */
  user?: string | null;
  headers?: ReadonlyMap<string, string>;
  /** A pool set explicitly by the inbound channel (message meta `pool`). */
  pool?: string | null;
}

/** Headers that choose a pool, in order. */
export const POOL_HEADERS = ["x-fastmta-pool", "x-group-id"] as const;

function matchesDomain(pattern: string, domain: string): boolean {
  const p = pattern.toLowerCase();
  if (p === "*") return true;
  if (p.startsWith("*.")) return domain.endsWith(p.slice(1));
  return domain === p;
}

/**
 * Chooses the pool for a message: an explicit `pool` from the channel, then a pool header
 * (`X-FastMTA-Pool`, `X-Group-Id`, when `delivery.pool_header`), then the first matching
 * `delivery.pool_rules` entry (by user and/or sender domain), then the default pool. Unknown
 * pool names are skipped. Deterministic, so every unit of a message gets the same pool.
 */
export function choosePool(
  config: Config,
  inputs: PoolInputs,
  known: (pool: string) => boolean,
  fallback: string,
): string {
  if (inputs.pool && known(inputs.pool)) return inputs.pool;
  if (config.delivery.pool_header && inputs.headers) {
    for (const name of POOL_HEADERS) {
      const value = inputs.headers.get(name)?.trim();
      if (value && known(value)) return value;
    }
  }
  const senderDomain = domainOf(inputs.sender);
  for (const rule of config.delivery.pool_rules) {
    if (rule.user !== undefined && rule.user !== inputs.user) continue;
    if (rule.sender_domain !== undefined && !matchesDomain(rule.sender_domain, senderDomain)) {
      continue;
    }
    return rule.pool;
  }
  return fallback;
}
