/**
 * The configuration schema. The seed's `app.json` shape (`database`, `ip_addressess`, `ports`,
 * `rabbitmq`) is accepted as is; everything newer lives in its own section with defaults, so an
 * empty file (or none) gives a working single-node server on the embedded store.
 */
import { z } from "zod";
import { parseDuration } from "./duration.ts";
import { deliverySection, dnsSection, routesSection } from "./delivery_schema.ts";
import { intakeSection } from "./intake_schema.ts";

/** A duration written as "250ms", "30s", "5m", "2h", "3d" or a number of seconds. */
const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  try {
    return parseDuration(value);
  } catch (error) {
    ctx.addIssue({ code: "custom", message: (error as Error).message });
    return z.NEVER;
  }
});

/** "host:port" with a numeric port; IPv6 hosts in brackets. */
const hostPort = z.string().regex(
  /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/,
  'Expected "host:port", e.g. "127.0.0.1:2525"',
);

const cidr = z.string().regex(
  /^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$|^[0-9a-fA-F:]+(\/\d{1,3})?$/,
  'Expected an IP network like "127.0.0.0/8"',
);

/** One SMTP listener with its mode: `smtp` (relay by policy), `submission`, `smtps`. */
const smtpListener = z.object({
  ip: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  mode: z.enum(["smtp", "submission", "smtps"]).optional(),
}).strict();

const driver = z.enum(["sqlite3", "sqlite", "postgres", "postgresql", "mysql", "mssql"])
  .transform((value) => {
    if (value === "postgresql") return "postgres" as const;
    if (value === "sqlite") return "sqlite3" as const;
    return value;
  });

const ipAddress = z.object({
  ip: z.string().min(1),
  hostname: z.string().min(1),
  inbound: z.boolean().default(false),
  outbound: z.boolean().default(true),
  group_id: z.union([z.string(), z.number()]).optional(),
  /** Share of its pools' mail (warm-up); default 1. */
  weight: z.number().min(0).optional(),
  /** Most messages a day from this IP (warm-up). */
  daily_cap: z.number().int().min(0).optional(),
});

/** The whole configuration file. Unknown keys are rejected so typos do not pass silently. */
export const configSchema = z.object({
  id: z.union([z.string(), z.number()]).transform(String).optional(),
  name: z.string().optional(),
  data_dir: z.string().default("./data"),
  database: z.object({
    driver: driver.default("sqlite3"),
    connection: z.string().optional(),
    /** Most connections each thread's store keeps open (ignored by SQLite). */
    pool_size: z.number().int().min(1).max(1000).default(10),
  }).strict().prefault({}),
  ip_addressess: z.array(ipAddress).optional(),
  ip_addresses: z.array(ipAddress).optional(),
  ports: z.array(z.number().int().min(1).max(65535)).optional(),
  rabbitmq: z.object({
    host: z.string(),
    port: z.number().int().default(5672),
    username: z.string().default("guest"),
    password: z.string().default("guest"),
    virtual_host: z.string().default(""),
    exchange_name: z.string().default(""),
    /** Units each node's consumer holds unacknowledged; default: the scheduler's capacity. */
    prefetch: z.number().int().min(1).max(65_535).optional(),
    /** TTLs of the retry delay queues (one queue per tier; longer delays re-park). */
    delay_tiers: z.array(duration).min(1).default([
      250,
      1_000,
      5_000,
      30_000,
      60_000,
      300_000,
      900_000,
      1_800_000,
      3_600_000,
    ]),
    /** Priority levels (1 = no priorities); a unit's `priority` is clamped to 0…levels-1. */
    priorities: z.number().int().min(1).max(10).default(1),
    queue_type: z.enum(["auto", "quorum", "classic"]).default("auto"),
    /** AMQP heartbeat; a dead broker is noticed within about twice this. */
    heartbeat: duration.default(5_000),
    /** Longest wait between reconnection attempts (backoff doubles from 100 ms up to this). */
    reconnect_max: duration.default(5_000),
    /** Whether this node consumes the inject queue. */
    inject: z.boolean().default(true),
    /**
     * Messages committed but still not confirmed by the broker after this long (their node
     * died in between; the client was never told 250) are deleted by the sweep. Far longer
     * than the 30 s confirm timeout, so that no batch still waiting for its confirm is taken.
     */
    unconfirmed_grace: duration.pipe(
      z.number().min(60_000, "Expected at least 1 minute (the confirm timeout is 30 s)"),
    ).default(600_000),
  }).optional(),
  cluster: z.object({
    /** How often a node writes its heartbeat row. */
    heartbeat_interval: duration.default(2_000),
    /** A node whose heartbeat is older than this is shown as down. */
    node_timeout: duration.default(10_000),
    /** How often config overrides are re-read even without a broadcast (the fallback). */
    config_poll: duration.default(10_000),
  }).strict().prefault({}),
  smtp: z.object({
    /** Listeners with an explicit mode; overrides `listen` and the seed's `ports`. */
    listeners: z.array(smtpListener).min(1).optional(),
    /** "host:port" listeners; the mode follows the port number (465 smtps, 587 submission). */
    listen: z.array(hostPort).optional(),
    hostname: z.string().optional(),
    max_message_size: z.number().int().positive().default(50 * 1024 * 1024),
    relay_networks: z.array(cidr).default(["127.0.0.0/8", "::1/128"]),
    local_domains: z.array(z.string()).default([]),
    /** SMTP acceptance workers sharing the listening sockets; default: the number of cores. */
    workers: z.number().int().min(1).max(64).optional(),
    greeting_delay: duration.default(0),
    max_recipients: z.number().int().positive().default(1000),
    group_commit_window: duration.default(0),
    tls: z.object({
      /** PEM certificate chain; with neither file set a self-signed pair is made in data_dir. */
      cert_file: z.string().optional(),
      key_file: z.string().optional(),
    }).strict().prefault({}),
    auth: z.object({
      mechanisms: z.array(z.enum(["PLAIN", "LOGIN", "CRAM-MD5"])).min(1)
        .default(["PLAIN", "LOGIN", "CRAM-MD5"]),
      /** Offer AUTH on connections without TLS (never needed with STARTTLS clients). */
      allow_insecure_auth: z.boolean().default(false),
      /** AES-256-GCM key for CRAM-MD5 secrets (32 bytes, raw or base64); default data_dir. */
      key_file: z.string().optional(),
      /** Failed AUTH attempts per client IP within `failure_window` before AUTH is refused. */
      max_failures: z.number().int().min(1).default(5),
      failure_window: duration.default(300_000),
      /** PBKDF2-SHA256 iterations for passwords set from now on (each hash keeps its own). */
      password_iterations: z.number().int().min(10_000).default(600_000),
      /** How long a verified password is remembered (the KDF is slow on purpose). */
      cache_ttl: duration.default(300_000),
      /** Defaults for users without their own limits. */
      max_recipients: z.number().int().positive().default(100),
      max_messages_per_minute: z.number().int().positive().default(600),
    }).strict().prefault({}),
    /** Concurrent connections per client IP (all workers together). */
    max_connections_per_ip: z.number().int().min(1).default(50),
    /** Concurrent connections per worker. */
    max_connections: z.number().int().min(1).default(2000),
    /** Error replies in one session before 421 and disconnect. */
    max_errors: z.number().int().min(1).default(10),
    /** Longest command line in bytes (AUTH lines included). */
    max_line_length: z.number().int().min(512).default(4096),
    /** Largest header section of a message in bytes. */
    max_header_size: z.number().int().min(1024).default(1024 * 1024),
    /** Idle time (no byte from the client) before 421. */
    idle_timeout: duration.default(300_000),
    /** Deadline for one complete command line from the previous reply (slow-loris guard). */
    command_timeout: duration.default(300_000),
    /** Deadline for the whole DATA transfer. */
    data_timeout: duration.default(600_000),
    /** Add `Message-ID: <queue id@hostname>` to messages without one. */
    add_message_id: z.boolean().default(true),
  }).strict().prefault({}),
  intake: intakeSection,
  admin: z.object({
    listen: hostPort.default("127.0.0.1:8025"),
    /** Bearer tokens accepted by the JSON API (treat the config file as a secret). */
    api_tokens: z.array(z.string().min(16, "Use at least 16 characters")).default([]),
  }).strict().prefault({}),
  dns: dnsSection,
  routes: routesSection,
  delivery: deliverySection,
  bounce: z.object({
    /** Send delivery status notifications (RFC 3464) for failed recipients. */
    dsn: z.boolean().default(true),
    /** How long a hard-bounced address (bad mailbox) is suppressed; 0 disables suppression. */
    suppression_time: duration.default(30 * 24 * 3_600_000),
    /** Largest original message returned whole in a DSN; bigger ones return headers only. */
    return_max_size: z.number().int().min(0).default(1_048_576),
  }).strict().prefault({}),
  dkim: z.object({
    /** On a signing failure: send the message unsigned, or defer it (retry schedule). */
    on_error: z.enum(["send_unsigned", "defer"]).default("send_unsigned"),
    /** File with the key that seals private keys in the database (default in data_dir). */
    master_key_file: z.string().optional(),
    /** How often delivery workers reload the key table. */
    refresh_interval: duration.default(60_000),
  }).strict().prefault({}),
  queue: z.object({
    lease_time: duration.default(600_000),
    batch_size: z.number().int().min(1).max(10_000).default(200),
    poll_interval: duration.default(1_000),
  }).strict().prefault({}),
  /** The database outbox channel (core/inbound/outbox.ts); off unless enabled. */
  outbox: z.object({
    enabled: z.boolean().default(false),
    /** Wait between polls that found no row (rows that keep coming are polled back to back). */
    poll_interval: duration.pipe(z.number().min(10, "Expected at least 10ms")).default(1_000),
    /** Most rows one poll claims. */
    batch: z.number().int().min(1).max(10_000).default(100),
    /** A claim older than this belongs to a node that died mid-way: the row is taken again. */
    claim_timeout: duration.pipe(
      z.number().min(60_000, "Expected at least 1 minute (an accept may wait 30 s for the broker)"),
    ).default(300_000),
    /** How long `accepted` rows are kept before they are deleted; 0 keeps them. */
    keep: duration.default(7 * 86_400_000),
  }).strict().prefault({}),
}).strict();

/** The file as written (before defaults). */
export type ConfigInput = z.input<typeof configSchema>;
/** The parsed file with defaults applied. */
export type ConfigFile = z.output<typeof configSchema>;
