/**
 * Loads, validates and resolves the configuration: file (optional) → environment overrides →
 * zod validation → a resolved `Config` that every stage reads. A bad file is reported with the
 * path of the offending field and stops the program (exit code 2, see main.ts).
 */
import { join, resolve } from "node:path";
import { hostname as osHostname } from "node:os";
import type { z } from "zod";
import { type ConfigFile, configSchema } from "./schema.ts";
import { ConnectionStringError, parseConnectionString } from "../connection/mod.ts";

export type { ConfigFile } from "./schema.ts";

export type {
  BouncePolicy,
  BounceRule,
  Config,
  Listener,
  SmtpListener,
  SmtpMode,
  Vmta,
} from "./types.ts";
export { modeForPort } from "./types.ts";
import { type Config, type Listener, modeForPort, type SmtpListener } from "./types.ts";

import { ConfigError } from "./error.ts";
export { ConfigError };
export { bounceDomains } from "./bounce_schema.ts";

/** Environment variables that override single values (listed in docs/configuration.md). */
export const ENV_OVERRIDES: Record<string, string> = {
  FASTMTA_NODE_ID: "id",
  FASTMTA_NODE_NAME: "name",
  FASTMTA_DATA_DIR: "data_dir",
  FASTMTA_DB_DRIVER: "database.driver",
  FASTMTA_DB_CONNECTION: "database.connection",
  FASTMTA_BODY_SPOOL: "database.body_spool",
  FASTMTA_SMTP_ENGINE: "smtp.engine",
  FASTMTA_SMTP_LISTEN: "smtp.listen",
  FASTMTA_SMTP_HOSTNAME: "smtp.hostname",
  FASTMTA_SMTP_WORKERS: "smtp.workers",
  FASTMTA_ADMIN_LISTEN: "admin.listen",
  FASTMTA_DNS_SERVERS: "dns.servers",
  FASTMTA_DELIVERY_WORKERS: "delivery.workers",
  FASTMTA_DELIVERY_ISOLATE: "delivery.isolate",
  FASTMTA_SMTP_ISOLATE: "smtp.isolate",
};

/**
 * Reads and resolves the configuration; `path` null means built-in defaults. `overrides`
 * (stored edits, `"section.key"` → value, see core/cluster/config_sync.ts) apply after the
 * environment; a null value means "no override".
 */
export async function loadConfig(
  path: string | null,
  env: Record<string, string | undefined> = Deno.env.toObject(),
  overrides: Record<string, unknown> = {},
): Promise<Config> {
  let raw: Record<string, unknown> = {};
  if (path !== null) {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      throw new ConfigError(`Cannot read config file "${path}": ${(error as Error).message}`);
    }
    try {
      raw = JSON.parse(text);
    } catch (error) {
      throw new ConfigError(`Cannot parse config file "${path}": ${(error as Error).message}`);
    }
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      throw new ConfigError(`Cannot use config file "${path}": expected a JSON object`);
    }
  }
  applyEnvOverrides(raw, env);
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== null && value !== undefined) setPath(raw, key, value);
  }
  return parseConfig(raw, path);
}

/** Validates a raw config object and resolves derived values. */
export function parseConfig(raw: unknown, source: string | null = null): Config {
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const where = source ? `config file "${source}"` : "configuration";
    throw new ConfigError(`Invalid ${where}:\n${formatIssues(parsed.error.issues)}`);
  }
  return resolveConfig(parsed.data, source);
}

function formatIssues(issues: z.core.$ZodIssue[]): string {
  return issues.map((issue) => {
    const path = issue.path.map((p) => typeof p === "number" ? `[${p}]` : `.${String(p)}`)
      .join("").replace(/^\./, "");
    return `  ${path || "(root)"}: ${issue.message}`;
  }).join("\n");
}

function applyEnvOverrides(raw: Record<string, unknown>, env: Record<string, string | undefined>) {
  for (const [name, path] of Object.entries(ENV_OVERRIDES)) {
    const value = env[name];
    if (value === undefined || value === "") continue;
    const keys = path.split(".");
    let target = raw;
    for (const key of keys.slice(0, -1)) {
      if (typeof target[key] !== "object" || target[key] === null) target[key] = {};
      target = target[key] as Record<string, unknown>;
    }
    const last = keys[keys.length - 1];
    if (path === "smtp.listen" || path === "dns.servers") {
      target[last] = value.split(",").map((s) => s.trim()).filter(Boolean);
    } else if (path.endsWith("workers")) {
      target[last] = Number(value);
    } else {
      target[last] = value;
    }
  }
}

/** Sets `raw["a"]["b"]` for the path "a.b", creating objects on the way. */
export function setPath(raw: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split(".");
  let target = raw;
  for (const key of keys.slice(0, -1)) {
    if (typeof target[key] !== "object" || target[key] === null) target[key] = {};
    target = target[key] as Record<string, unknown>;
  }
  target[keys[keys.length - 1]] = value;
}

function splitHostPort(value: string): Listener {
  const index = value.lastIndexOf(":");
  return {
    host: value.slice(0, index).replace(/^\[|\]$/g, ""),
    port: Number(value.slice(index + 1)),
  };
}

function resolveConfig(file: ConfigFile, source: string | null): Config {
  const dataDir = resolve(file.data_dir);
  const ips = file.ip_addressess ?? file.ip_addresses ?? [];
  const hostname = file.smtp.hostname ?? ips[0]?.hostname ?? osHostname();

  let listeners: SmtpListener[];
  if (file.smtp.listeners) {
    listeners = file.smtp.listeners.map((l) => ({
      host: l.ip.replace(/^\[|\]$/g, ""),
      port: l.port,
      mode: l.mode ?? modeForPort(l.port),
    }));
  } else if (file.smtp.listen) {
    listeners = file.smtp.listen.map(splitHostPort).map((l) => ({
      ...l,
      mode: modeForPort(l.port),
    }));
  } else if (file.ports && ips.some((ip) => ip.inbound)) {
    // The seed's shape: every inbound IP listens on every configured port.
    listeners = ips.filter((ip) => ip.inbound).flatMap((ip) =>
      file.ports!.map((port) => ({ host: ip.ip, port, mode: modeForPort(port) }))
    );
  } else {
    listeners = [{ host: "127.0.0.1", port: 2525, mode: "smtp" }];
  }
  const seen = new Set<string>();
  for (const l of listeners) {
    const key = `${l.host}:${l.port}`;
    if (seen.has(key)) {
      throw new ConfigError(`Invalid configuration:\n  smtp.listeners: "${key}" is listed twice`);
    }
    seen.add(key);
  }

  const { cert_file, key_file } = file.smtp.tls;
  if ((cert_file === undefined) !== (key_file === undefined)) {
    throw new ConfigError(
      `Invalid configuration:\n  smtp.tls: set both "cert_file" and "key_file", or neither`,
    );
  }
  const tlsFiles = cert_file && key_file
    ? { cert: resolve(cert_file), key: resolve(key_file), selfSigned: false }
    : {
      cert: join(dataDir, "tls", "self-signed.crt"),
      key: join(dataDir, "tls", "self-signed.key"),
      selfSigned: true,
    };

  adminTlsFiles(file, dataDir); // both files or neither: checked now, with the field named

  const connection = file.database.connection ??
    (file.database.driver === "sqlite3" ? join(dataDir, "fastmta.db") : "");
  if (connection === "") {
    throw new ConfigError(
      `Invalid configuration:\n  database.connection: required for driver "${file.database.driver}"`,
    );
  }
  if (file.smtp.isolate === "main" && file.delivery.isolate === "smtp") {
    throw new ConfigError(
      "Invalid configuration:\n  smtp.isolate: main cannot be combined with delivery.isolate: smtp",
    );
  }
  try {
    parseConnectionString(file.database.driver, connection);
  } catch (error) {
    if (error instanceof ConnectionStringError) throw new ConfigError(error.message);
    throw error;
  }

  return {
    nodeId: file.id ?? osHostname(),
    nodeName: file.name ?? file.id ?? osHostname(),
    dataDir,
    database: {
      driver: file.database.driver,
      connection,
      poolSize: file.database.pool_size,
      bodySpool: file.database.body_spool,
      bodySpoolKeep: file.database.body_spool_keep,
    },
    smtp: {
      ...file.smtp,
      listeners,
      hostname,
      // One core is left for the main thread and delivery: measured on 2 cores, a second SMTP
      // worker cost 28% more CPU per message and 26% less throughput (bench/RESULTS.md).
      workers: file.smtp.workers ?? Math.max(1, (navigator.hardwareConcurrency || 1) - 1),
      tlsFiles,
      authKeyFile: file.smtp.auth.key_file
        ? resolve(file.smtp.auth.key_file)
        : join(dataDir, "auth", "secret.key"),
    },
    intake: file.intake,
    admin: {
      ...splitHostPort(file.admin.listen),
      api_tokens: file.admin.api_tokens,
      metrics_public: file.admin.metrics_public,
      login: file.admin.login,
      tls: adminTlsFiles(file, dataDir),
    },
    shutdownTimeout: file.shutdown_timeout,
    dns: {
      servers: file.dns.servers.map((s) => {
        const { host, port } = splitHostPort(s);
        return { ipAddr: host, port };
      }),
      cacheTtl: file.dns.cache_ttl,
      negativeTtl: file.dns.negative_ttl,
      timeout: file.dns.timeout,
    },
    routes: file.routes,
    vmtas: ips.filter((ip) => ip.outbound).map((ip) => ({
      ip: ip.ip,
      hostname: ip.hostname,
      group: String(ip.group_id ?? "default"),
      ...(ip.weight !== undefined ? { weight: ip.weight } : {}),
      ...(ip.daily_cap !== undefined ? { dailyCap: ip.daily_cap } : {}),
    })),
    delivery: file.delivery,
    bounce: file.bounce,
    bounceRules: [],
    bouncePolicies: [],
    dkim: {
      ...file.dkim,
      masterKeyFile: resolve(file.dkim.master_key_file ?? join(dataDir, "dkim_master.key")),
    },
    queue: file.queue,
    outbox: file.outbox,
    events: {
      ...file.events,
      accounting: {
        ...file.events.accounting,
        ...(file.events.accounting.path ? { path: resolve(file.events.accounting.path) } : {}),
      },
    },
    log: file.log,
    rabbitmq: file.rabbitmq,
    cluster: file.cluster,
    source,
  };
}

/** The admin listener's certificate files, or null when it serves plain HTTP. */
function adminTlsFiles(
  file: ConfigFile,
  dataDir: string,
): { cert: string; key: string; selfSigned: boolean } | null {
  const { enabled, cert_file, key_file } = file.admin.tls;
  if ((cert_file === undefined) !== (key_file === undefined)) {
    throw new ConfigError(
      `Invalid configuration:\n  admin.tls: set both "cert_file" and "key_file", or neither`,
    );
  }
  if (!enabled) return null;
  return cert_file && key_file
    ? { cert: resolve(cert_file), key: resolve(key_file), selfSigned: false }
    : {
      cert: join(dataDir, "tls", "admin-self-signed.crt"),
      key: join(dataDir, "tls", "admin-self-signed.key"),
      selfSigned: true,
    };
}
