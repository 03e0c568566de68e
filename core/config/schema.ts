/**
 * The configuration schema. The seed's `app.json` shape (`database`, `ip_addressess`, `ports`,
 * `rabbitmq`) is accepted as is; everything newer lives in its own section with defaults, so an
 * empty file (or none) gives a working single-node server on the embedded store.
 */
import { z } from "zod";
import { parseDuration } from "./duration.ts";

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
});

const route = z.object({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(25),
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
  }).optional(),
  smtp: z.object({
    listen: z.array(hostPort).optional(),
    hostname: z.string().optional(),
    max_message_size: z.number().int().positive().default(50 * 1024 * 1024),
    relay_networks: z.array(cidr).default(["127.0.0.0/8", "::1/128"]),
    local_domains: z.array(z.string()).default([]),
    workers: z.number().int().min(1).max(64).optional(),
    greeting_delay: duration.default(0),
    max_recipients: z.number().int().positive().default(1000),
    group_commit_window: duration.default(0),
  }).strict().prefault({}),
  admin: z.object({
    listen: hostPort.default("127.0.0.1:8025"),
    /** Bearer tokens accepted by the JSON API (treat the config file as a secret). */
    api_tokens: z.array(z.string().min(16, "Use at least 16 characters")).default([]),
  }).strict().prefault({}),
  dns: z.object({
    servers: z.array(hostPort).default([]),
    cache_ttl: duration.default(60_000),
  }).strict().prefault({}),
  routes: z.record(z.string(), route).default({}),
  delivery: z.object({
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
    max_age: duration.default(5 * 24 * 3_600_000),
    connect_timeout: duration.default(30_000),
    command_timeout: duration.default(300_000),
    max_connections_per_host: z.number().int().min(1).default(10),
    max_messages_per_connection: z.number().int().min(1).default(1000),
    idle_timeout: duration.default(5_000),
    concurrency: z.number().int().min(1).default(200),
  }).strict().prefault({}),
  queue: z.object({
    lease_time: duration.default(600_000),
    batch_size: z.number().int().min(1).max(10_000).default(200),
    poll_interval: duration.default(1_000),
  }).strict().prefault({}),
}).strict();

/** The file as written (before defaults). */
export type ConfigInput = z.input<typeof configSchema>;
/** The parsed file with defaults applied. */
export type ConfigFile = z.output<typeof configSchema>;
