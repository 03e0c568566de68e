/**
 * The configuration schema. The seed's `app.json` shape (`database`, `ip_addressess`, `ports`,
 * `rabbitmq`) is accepted as is; everything newer lives in its own section with defaults, so an
 * empty file (or none) gives a working single-node server on the embedded store.
 *
 * Every key carries `.meta({ description, live })`: what it does, and whether a running node
 * applies a change (`fastmta config set`) without a restart (the keys of core/cluster/live.ts).
 * docs/configuration.md is generated from these (core/config/reference.ts, `deno task docs`).
 */
import { z } from "zod";
import {
  deliverySection,
  dnsSection,
  duration,
  hostPort,
  routesSection,
} from "./delivery_schema.ts";
import { adminLoginSection, adminTlsSection } from "./admin_schema.ts";
import { bounceSection } from "./bounce_schema.ts";
import { eventsSection } from "./events_schema.ts";
import { intakeSection } from "./intake_schema.ts";
import { smtpSection } from "./smtp_schema.ts";

const driver = z.enum(["sqlite3", "sqlite", "postgres", "postgresql", "mysql", "mssql"])
  .transform((value) => {
    if (value === "postgresql") return "postgres" as const;
    if (value === "sqlite") return "sqlite3" as const;
    return value;
  });

const ipAddress = z.object({
  ip: z.string().min(1).meta({ description: "The IP address.", live: false }),
  hostname: z.string().min(1).meta({
    description: "Host name said in EHLO when sending from this IP.",
    live: false,
  }),
  inbound: z.boolean().default(false).meta({
    description: "Listen on this IP on every port of `ports` (the seed's shape).",
    live: false,
  }),
  outbound: z.boolean().default(true).meta({
    description: "Send from this IP: a source (virtual MTA).",
    live: false,
  }),
  group_id: z.union([z.string(), z.number()]).optional().meta({
    description: 'The pool this source is in ("default" without one).',
    live: false,
  }),
  weight: z.number().min(0).optional().meta({
    description: "Share of its pools' mail (IP warm-up); 1 when not set.",
    live: false,
  }),
  daily_cap: z.number().int().min(0).optional().meta({
    description: "Most messages a day from this IP (IP warm-up); no cap when not set.",
    live: false,
  }),
});

const ipAddresses = z.array(ipAddress).optional();

/** The whole configuration file. Unknown keys are rejected so typos do not pass silently. */
export const configSchema = z.object({
  id: z.union([z.string(), z.number()]).transform(String).optional().meta({
    description: "This node's id, unique in a cluster (default: the host name).",
    live: false,
  }),
  name: z.string().optional().meta({
    description: "This node's display name (default: `id`).",
    live: false,
  }),
  shutdown_timeout: duration.default(30_000).meta({
    description: "On SIGTERM/SIGINT: how long in-flight deliveries may take to finish before " +
      "they are given back to the queue and the process exits.",
    live: false,
  }),
  data_dir: z.string().default("./data").meta({
    description: "Folder for the SQLite database, the self-signed certificate and key files.",
    live: false,
  }),
  database: z.object({
    driver: driver.default("sqlite3").meta({
      description: "`sqlite3` (alias `sqlite`), `postgres` (alias `postgresql`), `mysql` " +
        "(also MariaDB) or `mssql`.",
      live: false,
    }),
    connection: z.string().optional().meta({
      description: "Connection string in the driver's format (docs/databases.md); default " +
        "`<data_dir>/fastmta.db` for SQLite, required for the others.",
      live: false,
    }),
    pool_size: z.number().int().min(1).max(1000).default(10).meta({
      description: "Most connections each thread's store keeps open (ignored by SQLite).",
      live: false,
    }),
    body_spool: z.enum(["database", "segments"]).default("segments").meta({
      description: "Where message bodies go on SQLite: `segments` (append-only files in " +
        "`<database file>-spool/`, written and fsync'd once per accepted batch, freed once " +
        "settled; docs/performance.md) or `database` (the `messages` table). Server databases " +
        "and in-memory SQLite always keep bodies in the database. Bodies already stored are " +
        "read either way.",
      live: false,
    }),
    body_spool_keep: duration.pipe(
      z.number().min(60_000, "Expected at least 1 minute (a batch commits after its write)"),
    ).default(600_000).meta({
      description: "With `segments`: how long a sealed segment stays after its last write and " +
        "the last settle of its messages, so the console still shows a settled message's " +
        "headers for a while; then it is deleted. A DSN still to build keeps its segment " +
        "whatever this says.",
      live: false,
    }),
  }).strict().prefault({}).meta({ description: "The SQL database (queue, log, users, keys)." }),
  ip_addressess: ipAddresses.meta({
    description: "Source IPs (virtual MTAs) and inbound IPs; the seed's spelling. Outbound ones " +
      "become `vmta` objects, synced from the file while the seed owns them (docs/management.md).",
    live: false,
  }),
  ip_addresses: ipAddresses.meta({
    description: "The same list, spelled correctly; used when `ip_addressess` is absent.",
    live: false,
  }),
  ports: z.array(z.number().int().min(1).max(65535)).optional().meta({
    description: "The seed's listeners: every `inbound` IP listens on each port " +
      "(`smtp.listeners` and `smtp.listen` override it).",
    live: false,
  }),
  rabbitmq: z.object({
    host: z.string().meta({ description: "Broker host.", live: false }),
    port: z.number().int().default(5672).meta({ description: "Broker port.", live: false }),
    username: z.string().default("guest").meta({ description: "Broker user.", live: false }),
    password: z.string().default("guest").meta({ description: "Broker password.", live: false }),
    virtual_host: z.string().default("").meta({
      description: 'The vhost (`""` means `/`).',
      live: false,
    }),
    exchange_name: z.string().default("").meta({
      description: 'Prefix of every exchange and queue declared (`""` means `fastmta`).',
      live: false,
    }),
    prefetch: z.number().int().min(1).max(65_535).optional().meta({
      description: "Units each node's consumer holds unacknowledged, per priority level " +
        "(default: the scheduler's capacity + `queue.batch_size`).",
      live: false,
    }),
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
    ]).meta({
      description: "TTLs of the retry delay queues, one queue per tier (every " +
        "`retry_schedule` delay up to the longest is added; longer delays park again).",
      live: false,
    }),
    priorities: z.number().int().min(1).max(10).default(1).meta({
      description: "Priority levels, one work queue each (1 = no priorities); a unit's " +
        "`priority` is clamped to 0…levels-1.",
      live: false,
    }),
    queue_type: z.enum(["auto", "quorum", "classic"]).default("auto").meta({
      description: "Queue kind: `auto` takes quorum queues when the broker has them " +
        "(RabbitMQ ≥ 3.8), else durable classic ones.",
      live: false,
    }),
    heartbeat: duration.default(5_000).meta({
      description: "AMQP heartbeat; a dead broker is noticed within about twice this.",
      live: false,
    }),
    reconnect_max: duration.default(5_000).meta({
      description: "Longest wait between reconnection attempts (backoff doubles from 100 ms).",
      live: false,
    }),
    inject: z.boolean().default(true).meta({
      description: "Whether this node consumes the inject queue.",
      live: false,
    }),
    unconfirmed_grace: duration.pipe(
      z.number().min(60_000, "Expected at least 1 minute (the confirm timeout is 30 s)"),
    ).default(600_000).meta({
      description: "Messages committed but never confirmed by the broker (their node died in " +
        "between; the client was never told 250) are deleted after this; far longer than the " +
        "30 s confirm timeout.",
      live: false,
    }),
  }).optional().meta({
    description: "RabbitMQ; when present the queue runs on it (distributed mode, " +
      "docs/distributed.md).",
  }),
  cluster: z.object({
    heartbeat_interval: duration.default(2_000).meta({
      description: "How often a node writes its heartbeat row.",
      live: false,
    }),
    node_timeout: duration.default(10_000).meta({
      description: "A node whose heartbeat is older than this is shown as down.",
      live: false,
    }),
    config_poll: duration.default(10_000).meta({
      description: "How often config overrides are re-read without a broadcast (the fallback).",
      live: false,
    }),
  }).strict().prefault({}).meta({ description: "Node heartbeats and config overrides." }),
  smtp: smtpSection,
  intake: intakeSection,
  admin: z.object({
    listen: hostPort.default("127.0.0.1:8025").meta({
      description: "Address of the admin console, the JSON API and the REST API (plain HTTP " +
        "unless `admin.tls.enabled`: then keep it on loopback or behind a TLS proxy).",
      live: false,
    }),
    api_tokens: z.array(z.string().min(16, "Use at least 16 characters")).default([]).meta({
      description: "Bearer tokens accepted by the JSON API (at least 16 characters; they " +
        "cannot send mail, API keys do). Treat the config file as a secret.",
      live: false,
    }),
    metrics_public: z.boolean().default(false).meta({
      description: "Serve `/metrics` without credentials (a scraper on a private network). " +
        "Off: it takes a bearer token of `admin.api_tokens` or an API key of role admin, " +
        "operator or viewer (docs/observability.md).",
      live: false,
    }),
    login: adminLoginSection,
    tls: adminTlsSection,
  }).strict().prefault({}).meta({ description: "Admin HTTP (docs/console.md, docs/api.md)." }),
  dns: dnsSection,
  routes: routesSection,
  delivery: deliverySection,
  bounce: bounceSection,
  dkim: z.object({
    on_error: z.enum(["send_unsigned", "defer"]).default("send_unsigned").meta({
      description: "On a signing failure: send the message unsigned, or defer it (retry " +
        "schedule).",
      live: false,
    }),
    master_key_file: z.string().optional().meta({
      description: "File with the key that seals private keys in the database (default " +
        "`<data_dir>/dkim_master.key`; `FASTMTA_DKIM_MASTER_KEY` wins).",
      live: false,
    }),
    refresh_interval: duration.default(5_000).meta({
      description: "How often delivery workers reload the key table (one small query): a " +
        "key added or rotated with `fastmta domain` signs within this time.",
      live: false,
    }),
  }).strict().prefault({}).meta({ description: "DKIM signing (keys: `fastmta dkim`)." }),
  queue: z.object({
    lease_time: duration.default(600_000).meta({
      description: "How long a delivery may hold a unit before another may take it.",
      live: true,
    }),
    batch_size: z.number().int().min(1).max(10_000).default(200).meta({
      description: "Most units the scheduler leases at once.",
      live: true,
    }),
    poll_interval: duration.default(1_000).meta({
      description: "Longest wait between scheduling passes (commits wake it sooner).",
      live: true,
    }),
    lease_at_accept: z.boolean().default(true).meta({
      description: "Embedded queue: while the scheduler has room and no due unit waits, the " +
        "SMTP workers insert new units already leased to this node and hand them to it, with " +
        "no lease transaction (docs/performance.md).",
      live: false,
    }),
    quarantine_after: z.number().int().min(1).max(1_000).default(3).meta({
      description: "Handling failures of one unit (an exception while dispatching, delivering, " +
        "settling or consuming it; not remote replies) after which it is quarantined: held " +
        "with its reason until an operator releases or cancels it (docs/quarantine.md).",
      live: false,
    }),
  }).strict().prefault({}).meta({ description: "The scheduler's leasing." }),
  outbox: z.object({
    enabled: z.boolean().default(false).meta({
      description: "Poll the `outbox` table (docs/inbound.md).",
      live: false,
    }),
    poll_interval: duration.pipe(z.number().min(10, "Expected at least 10ms")).default(1_000)
      .meta({
        description: "Wait after a poll that found no row (rows that keep coming are polled " +
          "back to back).",
        live: false,
      }),
    batch: z.number().int().min(1).max(10_000).default(100).meta({
      description: "Most rows one poll claims.",
      live: false,
    }),
    claim_timeout: duration.pipe(
      z.number().min(60_000, "Expected at least 1 minute (an accept may wait 30 s for the broker)"),
    ).default(300_000).meta({
      description: "A claim older than this belongs to a node that died mid-way: the row is " +
        "taken again.",
      live: false,
    }),
    keep: duration.default(7 * 86_400_000).meta({
      description: "How long `accepted` rows are kept before they are deleted; 0 keeps them.",
      live: false,
    }),
  }).strict().prefault({}).meta({
    description: "The database outbox channel (core/inbound/outbox.ts); off unless enabled.",
  }),
  events: eventsSection,
  log: z.object({
    level: z.enum(["debug", "info", "warn", "error"]).default("info").meta({
      description: "Least severe level written: `debug`, `info`, `warn` or `error`.",
      live: true,
    }),
    format: z.enum(["auto", "json", "text"]).default("auto").meta({
      description: "`json`: one JSON object per line; `text`: human-readable lines; `auto`: " +
        "text when stdout is a terminal, else JSON (docs/observability.md).",
      live: false,
    }),
  }).strict().prefault({}).meta({
    description: "The server's log on stdout (other commands log text on stderr).",
  }),
}).strict();

/** The file as written (before defaults). */
export type ConfigInput = z.input<typeof configSchema>;
/** The parsed file with defaults applied. */
export type ConfigFile = z.output<typeof configSchema>;
