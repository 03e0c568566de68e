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
}).meta({ format: "duration" });

/** "host:port" with a numeric port; IPv6 hosts in brackets. */
export const hostPort = z.string().regex(
  /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/,
  'Expected "host:port", e.g. "127.0.0.1:2525"',
).meta({ format: "host:port" });

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
}).meta({ format: "rate" });

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
  match: regex.meta({
    description: 'Regular expression (case-insensitive) on "CODE TEXT" of the remote reply.',
  }),
  duration: duration.default(600_000).meta({
    description: "How long the (source IP, site) stays in backoff.",
  }),
  action: z.enum(["backoff", "switch_ip"]).default("backoff").meta({
    description: "`backoff`: defer the message until the end; `switch_ip`: retry it now from " +
      "another IP.",
  }),
}).strict();

/**
 * One shaping rule. Every field is optional: a rule is laid over the less specific ones
 * (defaults → `*` → `*.suffix` → `mx:` patterns → the exact domain), and a stored rule over the
 * config file's rule for the same pattern.
 */
export const shapingRule = z.object({
  max_connections: z.number().int().min(1).optional().meta({
    description: "Simultaneous connections per (source IP, site).",
  }),
  connection_rate: rate.nullable().optional().meta({
    description: 'New connections per (source IP, site), e.g. "10/s"; null for no limit.',
  }),
  max_messages_per_connection: z.number().int().min(1).optional().meta({
    description: "Messages sent over one connection before it is closed.",
  }),
  message_rate: z.union([rate, z.array(rate)]).nullable().optional().meta({
    description: 'Messages per (source IP, site): one rate or several (e.g. ["100/m", ' +
      '"2000/h"]); null for no limit.',
  }),
  max_recipients_per_transaction: z.number().int().min(1).optional().meta({
    description: "Recipients per SMTP transaction (default 100); more are sent in further " +
      "transactions.",
  }),
  cluster_max_connections: z.number({
    error: (issue) =>
      issue.input === undefined ? undefined : "Expected a whole number of connections or null",
  }).int("Expected a whole number of connections or null")
    .min(1, "Must be at least 1 (null for no cluster-wide limit)").nullable().optional().meta({
      description: "Simultaneous connections to the site from the whole cluster (every node, " +
        "every source IP); null for no cluster-wide limit. Kept in the shared database in " +
        "distributed mode.",
    }),
  cluster_message_rate: rate.refine(
    (r) => r.per <= 86_400_000,
    'The window of a cluster rate is at most one day, e.g. "50000/d"',
  ).nullable().optional().meta({
    description: 'Messages to the site from the whole cluster per fixed window, e.g. "600/m" ' +
      "(the window is the rate's duration, at most a day); null for no cluster-wide rate.",
  }),
  max_waiting: z.number().int().min(0).optional().meta({
    description: "Units that may wait in a worker for a connection of one (source IP, site).",
  }),
  retry_schedule: z.array(duration).min(1).optional().meta({
    description: "Delays after a remote 4xx, by attempt number (the last repeats).",
  }),
  connect_retry_schedule: z.array(duration).min(1).optional().meta({
    description: "Delays after a connection or DNS failure, by attempt number.",
  }),
  local_limit_delay: duration.optional().meta({
    description: "Delay for a unit held back by a local limit it could not wait out (no " +
      "attempt is used).",
  }),
  max_age: duration.optional().meta({
    description: "Give up (fail) deferred mail older than this.",
  }),
  idle_timeout: duration.optional().meta({
    description: "How long an idle connection is kept open for more mail.",
  }),
  tls: tlsMode.optional().meta({
    description: "`none`, `opportunistic` (default), `required` or `verify` (docs/delivery.md).",
  }),
  mta_sts: z.boolean().optional().meta({
    description: "Apply the domain's MTA-STS policy (RFC 8461).",
  }),
  paused: z.boolean().optional().meta({
    description: "Hold mail for this destination (or pool, for `pool:NAME` rules).",
  }),
  backoff: z.array(backoffPattern).optional().meta({
    description: "Reply patterns that put the (source IP, site) into backoff.",
  }),
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
).meta({ format: "pattern" });

const auth = z.object({
  username: z.string().min(1).meta({ description: "AUTH user name." }),
  password: z.string().meta({ description: "AUTH password." }),
}).strict();

/** A transport-map entry: mail for the domain goes to this host instead of its MX. */
export const route = z.object({
  host: z.string().min(1).meta({ description: "Host (name or IP) that takes the mail." }),
  port: z.number().int().min(1).max(65535).default(25).meta({ description: "Its port." }),
  tls: tlsMode.optional().meta({
    description: "TLS for this route; defaults to the destination's shaping rule.",
  }),
  auth: auth.optional().meta({ description: "AUTH PLAIN/LOGIN credentials for a smarthost." }),
}).strict();

const poolMember = z.union([
  z.string().min(1),
  z.object({
    ip: z.string().min(1).meta({ description: "A source IP from `ip_addressess`." }),
    weight: z.number().min(0).optional().meta({
      description: "Its share of this pool's mail (IP warm-up).",
    }),
    daily_cap: z.number().int().min(0).optional().meta({
      description: "Most messages a day from it in this pool.",
    }),
  }).strict(),
]);

const poolRule = z.object({
  sender_domain: z.string().min(1).optional().meta({
    description: "Sender domain (`example.com`, `*.example.com`).",
  }),
  user: z.string().min(1).optional().meta({ description: "Authenticated SMTP or API user." }),
  pool: z.string().min(1).meta({ description: "The pool to use." }),
}).strict();

/** The `dns` section. */
export const dnsSection = z.object({
  servers: z.array(hostPort).default([]).meta({
    description: 'Resolvers as "host:port" (default: those of /etc/resolv.conf).',
    live: false,
  }),
  cache_ttl: duration.default(3_600_000).meta({
    description: "Longest time an answer is cached; shorter record TTLs win.",
    live: false,
  }),
  negative_ttl: duration.default(60_000).meta({
    description: 'How long "does not exist" answers are cached.',
    live: false,
  }),
  timeout: duration.default(5_000).meta({
    description: "How long one DNS query may take.",
    live: false,
  }),
}).strict().prefault({}).meta({ description: "DNS resolution for delivery (MX, A, MTA-STS)." });

/** The `routes` section (transport map): domain or `*` → host. */
export const routesSection = z.record(z.string(), route).default({}).meta({
  description: "Transport map: domain or `*` → host; a matching route replaces MX lookup. " +
    "Becomes `route` objects, synced from the file while the seed owns them (docs/management.md).",
  live: false,
  key: "domain",
});

/** The `delivery` section. */
export const deliverySection = z.object({
  workers: z.number().int().min(1).max(64).default(1).meta({
    description: "Delivery workers; each destination site belongs to one of them.",
    live: false,
  }),
  isolate: z.enum(["worker", "main", "smtp"]).default("main").meta({
    description:
      "Where delivery runs: `main` (the default), in the main thread's isolate, one V8 " +
      "isolate less (docs/performance.md, Memory), where a crash ends the process (exit code " +
      "70) for the service manager to restart the node; `worker`, a Web Worker per delivery " +
      "worker, restarted alone when it crashes; `smtp`, in the first SMTP worker's isolate (a " +
      "crash restarts both stages).",
    live: false,
  }),
  remote_port: z.number().int().min(1).max(65535).default(25).meta({
    description: "Port of remote MX hosts.",
    live: false,
  }),
  retry_schedule: z.array(duration).min(1).default([
    60_000,
    300_000,
    900_000,
    1_800_000,
    3_600_000,
    7_200_000,
    14_400_000,
  ]).meta({
    description: "Delays after a remote 4xx, by attempt number (the last repeats).",
    live: true,
  }),
  connect_retry_schedule: z.array(duration).min(1).optional().meta({
    description: "Delays after connection, DNS or TLS failures; `retry_schedule` when not set.",
    live: false,
  }),
  local_limit_delay: duration.default(10_000).meta({
    description: "Delay for a unit held back by a local limit it could not wait out (no " +
      "attempt is used).",
    live: false,
  }),
  max_hold: duration.default(2_000).meta({
    description: "Longest a unit waits inside a worker for a rate-limit token before it is " +
      "deferred.",
    live: false,
  }),
  max_age: duration.default(5 * 24 * 3_600_000).meta({
    description: "Give up (fail, with a DSN) deferred mail older than this.",
    live: true,
  }),
  connect_timeout: duration.default(30_000).meta({
    description: "Deadline for a TCP connection and the remote greeting.",
    live: false,
  }),
  command_timeout: duration.default(300_000).meta({
    description: "Deadline for each remote reply.",
    live: false,
  }),
  max_connections_per_host: z.number().int().min(1).default(10).meta({
    description: "Simultaneous connections per (source IP, site) unless a shaping rule says " +
      "otherwise.",
    live: true,
  }),
  max_messages_per_connection: z.number().int().min(1).default(1000).meta({
    description: "Messages over one connection before it is closed.",
    live: true,
  }),
  idle_timeout: duration.default(5_000).meta({
    description: "How long an idle connection is kept open for more mail.",
    live: true,
  }),
  concurrency: z.number().int().min(1).default(200).meta({
    description: "Units a node delivers at once (the scheduler's capacity).",
    live: false,
  }),
  pools: z.record(
    z.string(),
    z.object({
      ips: z.array(poolMember).min(1).meta({
        description: "Its sources: IPs, or objects with an IP and its own `weight`/`daily_cap`.",
      }),
    }).strict(),
  ).default({}).meta({
    description: 'Named pools of source IPs (`{"ips": ["10.0.0.1", {"ip": …, "weight": …}]}`), ' +
      "in addition to those formed by `group_id`. Becomes `pool` objects, synced from the file while the seed owns them.",
    live: false,
    key: "pool",
  }),
  default_pool: z.string().min(1).optional().meta({
    description: 'Pool for mail no rule places; default "default" when it exists, else every ' +
      "source.",
    live: false,
  }),
  pool_rules: z.array(poolRule).default([]).meta({
    description: "Pool choice by sender domain or user, first match wins.",
    live: false,
  }),
  pool_header: z.boolean().default(true).meta({
    description: "Honour `X-FastMTA-Pool` / `X-Group-Id` headers (relay clients are trusted).",
    live: false,
  }),
  shaping: z.record(shapingPattern, shapingRule).default({}).meta({
    description: "Shaping rules by destination pattern (docs/delivery.md). Stored rules " +
      "(`fastmta shaping`) override them and apply without a restart.",
    live: false,
    key: "pattern",
  }),
  tls_ca_file: z.string().min(1).optional().meta({
    description: "Extra CA certificates (PEM file) trusted for `verify` TLS and MTA-STS " +
      "policy fetches.",
    live: false,
  }),
  mta_sts: z.object({
    enabled: z.boolean().default(true).meta({
      description: "Fetch and apply MTA-STS policies (RFC 8461).",
      live: false,
    }),
    port: z.number().int().min(1).max(65535).default(443).meta({
      description: "Port of the HTTPS policy host (443; tests point it elsewhere).",
      live: false,
    }),
    fetch_timeout: duration.default(10_000).meta({
      description: "Deadline for fetching one policy.",
      live: false,
    }),
  }).strict().prefault({}).meta({ description: "MTA-STS (RFC 8461)." }),
  rules_reload_interval: duration.default(30_000).meta({
    description: "How often a running node re-reads the `shaping_rules` table (also on SIGHUP).",
    live: false,
  }),
  pause_recheck: duration.default(600_000).meta({
    description: "How often units held by a pause are looked at again (resuming makes them " +
      "due at once, so this is only a safety net).",
    live: false,
  }),
}).strict().prefault({}).meta({ description: "Outbound delivery (docs/delivery.md)." });

/** The parsed `delivery` section. */
export type DeliverySection = z.output<typeof deliverySection>;
