/**
 * Schemas of the delivery-side config sections (`delivery`, `routes`, `dns`) and of shaping
 * rules, which are also stored in the `shaping_rules` table and validated with the same schema
 * when a running node reloads them. Kept apart from schema.ts so the other sections can change
 * without touching these.
 */
import { z } from "zod";
import { parseDuration } from "./duration.ts";

/** A duration written as "250ms", "30s", "5m", "2h", "3d" or a number of seconds. */
export const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  try {
    return parseDuration(value);
  } catch (error) {
    ctx.addIssue({ code: "custom", message: (error as Error).message });
    return z.NEVER;
  }
});

/** "host:port" with a numeric port; IPv6 hosts in brackets. */
export const hostPort = z.string().regex(
  /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/,
  'Expected "host:port", e.g. "127.0.0.1:2525"',
);

/** A rate limit: `count` events per `per` milliseconds. */
export interface Rate {
  count: number;
  per: number;
}

/** "100/m", "10/s", "5000/h", "20/30s": a count per duration. */
export const rate = z.string({
  error: (issue) =>
    issue.input === undefined ? undefined : 'Expected a rate such as "100/m", "10/s" or "20/30s"',
}).transform((value, ctx): Rate => {
  const match = /^\s*(\d+)\s*\/\s*(\d*(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(value);
  if (!match) {
    ctx.addIssue({
      code: "custom",
      message: `Invalid rate "${value}": expected e.g. "100/m", "10/s", "20/30s"`,
    });
    return z.NEVER;
  }
  const per = parseDuration(`${match[2] || "1"}${match[3]}`);
  if (per <= 0 || Number(match[1]) <= 0) {
    ctx.addIssue({ code: "custom", message: `Invalid rate "${value}": must be positive` });
    return z.NEVER;
  }
  return { count: Number(match[1]), per };
});

/** How a destination's connections use TLS. */
export const tlsMode = z.enum(["none", "opportunistic", "required", "verify"]);
/** See {@link tlsMode}. */
export type TlsMode = z.output<typeof tlsMode>;

const regex = z.string().min(1).superRefine((value, ctx) => {
  try {
    new RegExp(value, "i");
  } catch (error) {
    ctx.addIssue({ code: "custom", message: `Invalid pattern: ${(error as Error).message}` });
  }
});

/** A reply pattern that puts the (source IP, site) into backoff. */
export const backoffPattern = z.object({
  /** Regular expression (case-insensitive) on "CODE TEXT" of the remote reply. */
  match: regex,
  /** How long the (source IP, site) stays in backoff. */
  duration: duration.default(600_000),
  /** `backoff`: defer the message until the end; `switch_ip`: retry it now from another IP. */
  action: z.enum(["backoff", "switch_ip"]).default("backoff"),
}).strict();

/**
 * One shaping rule. Every field is optional: a rule is laid over the less specific ones
 * (defaults → `*` → `*.suffix` → `mx:` patterns → the exact domain), and a stored rule over the
 * config file's rule for the same pattern.
 */
export const shapingRule = z.object({
  /** Simultaneous connections per (source IP, site). */
  max_connections: z.number().int().min(1).optional(),
  /** New connections per (source IP, site), e.g. "10/s"; null for no limit. */
  connection_rate: rate.nullable().optional(),
  max_messages_per_connection: z.number().int().min(1).optional(),
  /** Messages per (source IP, site): one rate or several (e.g. ["100/m", "2000/h"]). */
  message_rate: z.union([rate, z.array(rate)]).nullable().optional(),
  max_recipients_per_transaction: z.number().int().min(1).optional(),
  /**
   * Simultaneous connections to the site from the whole cluster (every node, every source IP);
   * null for no cluster-wide limit. Kept in the shared database in distributed mode.
   */
  cluster_max_connections: z.number({
    error: (issue) =>
      issue.input === undefined ? undefined : "Expected a whole number of connections or null",
  }).int("Expected a whole number of connections or null")
    .min(1, "Must be at least 1 (null for no cluster-wide limit)").nullable().optional(),
  /**
   * Messages to the site from the whole cluster per fixed window, e.g. "600/m" (the window is
   * the rate's duration); null for no cluster-wide rate.
   */
  cluster_message_rate: rate.refine(
    (r) => r.per <= 86_400_000,
    'The window of a cluster rate is at most one day, e.g. "50000/d"',
  ).nullable().optional(),
  /** Units that may wait in a worker for a connection of one (source IP, site). */
  max_waiting: z.number().int().min(0).optional(),
  /** Delays after a remote 4xx, by attempt number (the last repeats). */
  retry_schedule: z.array(duration).min(1).optional(),
  /** Delays after a connection or DNS failure, by attempt number. */
  connect_retry_schedule: z.array(duration).min(1).optional(),
  /** Delay for a unit held back by a local limit it could not wait out (no attempt is used). */
  local_limit_delay: duration.optional(),
  /** Give up (fail) deferred mail older than this. */
  max_age: duration.optional(),
  idle_timeout: duration.optional(),
  tls: tlsMode.optional(),
  /** Apply the domain's MTA-STS policy (RFC 8461). */
  mta_sts: z.boolean().optional(),
  /** Hold mail for this destination (or pool, for `pool:NAME` rules). */
  paused: z.boolean().optional(),
  backoff: z.array(backoffPattern).optional(),
}).strict();

/** A shaping rule as written. */
export type ShapingRuleInput = z.input<typeof shapingRule>;
/** A shaping rule with durations and rates parsed. */
export type ShapingRule = z.output<typeof shapingRule>;

/**
 * Shaping rule keys: `*`, a domain, `*.suffix`, `mx:PATTERN` (matched against MX host names,
 * `*` wildcards), or `pool:NAME` (only `paused` applies).
 */
export const shapingPattern = z.string().regex(
  /^(\*|(\*\.)?[a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*|mx:\S+|pool:\S+)$/,
  'Expected "*", "example.com", "*.example.com", "mx:*.example.net" or "pool:NAME"',
);

const auth = z.object({
  username: z.string().min(1),
  password: z.string(),
}).strict();

/** A transport-map entry: mail for the domain goes to this host instead of its MX. */
export const route = z.object({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(25),
  /** TLS for this route; defaults to the destination's shaping rule. */
  tls: tlsMode.optional(),
  /** AUTH PLAIN/LOGIN credentials for a smarthost. */
  auth: auth.optional(),
}).strict();

const poolMember = z.union([
  z.string().min(1),
  z.object({
    ip: z.string().min(1),
    weight: z.number().min(0).optional(),
    daily_cap: z.number().int().min(0).optional(),
  }).strict(),
]);

const poolRule = z.object({
  /** Sender domain (`example.com`, `*.example.com`). */
  sender_domain: z.string().min(1).optional(),
  /** Authenticated SMTP or API user. */
  user: z.string().min(1).optional(),
  pool: z.string().min(1),
}).strict();

/** The `dns` section. */
export const dnsSection = z.object({
  servers: z.array(hostPort).default([]),
  /** Longest time an answer is cached; shorter record TTLs win. */
  cache_ttl: duration.default(3_600_000),
  /** How long "does not exist" answers are cached. */
  negative_ttl: duration.default(60_000),
  timeout: duration.default(5_000),
}).strict().prefault({});

/** The `routes` section (transport map): domain or `*` → host. */
export const routesSection = z.record(z.string(), route).default({});

/** The `delivery` section. */
export const deliverySection = z.object({
  workers: z.number().int().min(1).max(64).default(1),
  remote_port: z.number().int().min(1).max(65535).default(25),
  retry_schedule: z.array(duration).min(1).default([
    60_000,
    300_000,
    900_000,
    1_800_000,
    3_600_000,
    7_200_000,
    14_400_000,
  ]),
  /** After connection, DNS or TLS failures; `retry_schedule` when not set. */
  connect_retry_schedule: z.array(duration).min(1).optional(),
  local_limit_delay: duration.default(10_000),
  /** Longest a unit waits inside a worker for a rate-limit token before it is deferred. */
  max_hold: duration.default(2_000),
  max_age: duration.default(5 * 24 * 3_600_000),
  connect_timeout: duration.default(30_000),
  command_timeout: duration.default(300_000),
  max_connections_per_host: z.number().int().min(1).default(10),
  max_messages_per_connection: z.number().int().min(1).default(1000),
  idle_timeout: duration.default(5_000),
  concurrency: z.number().int().min(1).default(200),
  /** Named pools of source IPs, in addition to those formed by `group_id`. */
  pools: z.record(z.string(), z.object({ ips: z.array(poolMember).min(1) }).strict())
    .default({}),
  /** Pool for mail no rule places; default "default" when it exists, else every source. */
  default_pool: z.string().min(1).optional(),
  /** Pool choice by sender domain or user, first match wins. */
  pool_rules: z.array(poolRule).default([]),
  /** Honour `X-FastMTA-Pool` / `X-Group-Id` headers (relay clients are trusted). */
  pool_header: z.boolean().default(true),
  /** Shaping rules by destination pattern (the database's `shaping_rules` override them). */
  shaping: z.record(shapingPattern, shapingRule).default({}),
  /** Extra CA certificates (PEM file) trusted for `verify` TLS and MTA-STS policy fetches. */
  tls_ca_file: z.string().min(1).optional(),
  mta_sts: z.object({
    enabled: z.boolean().default(true),
    /** Port of the HTTPS policy host (443; tests point it elsewhere). */
    port: z.number().int().min(1).max(65535).default(443),
    fetch_timeout: duration.default(10_000),
  }).strict().prefault({}),
  /** How often a running node re-reads the `shaping_rules` table (also on SIGHUP). */
  rules_reload_interval: duration.default(30_000),
  /**
   * How often units held by a pause are looked at again. Resuming (a changed rule, or a
   * restart) makes them due at once, so this is only a safety net.
   */
  pause_recheck: duration.default(600_000),
}).strict().prefault({});

/** The parsed `delivery` section. */
export type DeliverySection = z.output<typeof deliverySection>;
