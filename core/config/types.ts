/**
 * The resolved configuration's shape (what `parseConfig` returns and every stage reads), apart
 * from the loading and resolving in mod.ts.
 */
import type { ConfigFile } from "./schema.ts";

/** A virtual MTA: a source IP with its own EHLO hostname. */
export interface Vmta {
  ip: string;
  hostname: string;
  group: string;
  /** Share of its pools' mail (IP warm-up); 1 when not set. */
  weight?: number;
  /** Most messages a day from this IP (IP warm-up); no cap when not set. */
  dailyCap?: number;
}

/** One SMTP listener. */
export interface Listener {
  host: string;
  port: number;
}

/** How an SMTP listener treats its clients. */
export type SmtpMode = "smtp" | "submission" | "smtps";

/**
 * One SMTP listener. `smtp`: relay by policy, STARTTLS offered, AUTH optional. `submission`:
 * STARTTLS, AUTH required before MAIL. `smtps`: implicit TLS, AUTH required.
 */
export interface SmtpListener extends Listener {
  mode: SmtpMode;
  /** Its own certificate and key files (a listener object's `certificate`); else `smtp.tls`. */
  certificate?: { cert: string; key: string };
}

/** The usual mode for a port number: 465 smtps, 587 submission, anything else smtp. */
export function modeForPort(port: number): SmtpMode {
  return port === 465 ? "smtps" : port === 587 ? "submission" : "smtp";
}

/**
 * A bounce policy (a `bounce_policy` object, core/manage/kinds.ts): overrides of the file's
 * `bounce.*` keys for the cluster, one sending domain or one pool (core/bounce/policy.ts).
 */
export interface BouncePolicy {
  scope: "default" | "sending_domain" | "pool";
  sending_domain?: string;
  pool?: string;
  verp?: { enabled: boolean; domain?: string; prefix?: string };
  unsubscribe?: { enabled: boolean; base_url?: string };
  domains?: string[];
  delay_notice?: { after?: number; mode?: "requested" | "always" };
}

/**
 * An operator's bounce classification rule (a `bounce_rule` object, core/manage/kinds.ts),
 * tried before the built-in ones; `pattern` is an RE2 expression, matched case-insensitively.
 */
export interface BounceRule {
  name: string;
  pattern: string;
  code?: number;
  category: string;
  priority: number;
}

/** The resolved configuration every stage reads. */
export interface Config {
  nodeId: string;
  nodeName: string;
  dataDir: string;
  database: {
    driver: "sqlite3" | "postgres" | "mysql" | "mssql";
    connection: string;
    /** Most connections each thread's store keeps open (ignored by SQLite). */
    poolSize: number;
    /** Where new bodies go on SQLite (core/spool/); server databases ignore it. */
    bodySpool: "database" | "segments";
    /** How long settled spool segments are kept (ms, `database.body_spool_keep`). */
    bodySpoolKeep: number;
  };
  smtp: Omit<ConfigFile["smtp"], "listeners"> & {
    listeners: SmtpListener[];
    hostname: string;
    workers: number;
    /** Certificate and key files; `selfSigned` when made (at first start) in the data folder. */
    tlsFiles: { cert: string; key: string; selfSigned: boolean };
    /** The AES key file for CRAM-MD5 secrets. */
    authKeyFile: string;
  };
  intake: ConfigFile["intake"];
  admin: Listener & {
    api_tokens: string[];
    metrics_public: boolean;
    login: ConfigFile["admin"]["login"];
    /** HTTPS certificate files (`selfSigned`: made at first start), or null for plain HTTP. */
    tls: { cert: string; key: string; selfSigned: boolean } | null;
  };
  /** How long a stop may wait for in-flight work (ms). */
  shutdownTimeout: number;
  dns: {
    servers: { ipAddr: string; port: number }[];
    cacheTtl: number;
    negativeTtl: number;
    timeout: number;
  };
  routes: ConfigFile["routes"];
  vmtas: Vmta[];
  delivery: ConfigFile["delivery"];
  bounce: ConfigFile["bounce"];
  /** The operator's bounce rules (managed objects), ordered by priority then name. */
  bounceRules: BounceRule[];
  /** The bounce policies (managed objects); core/bounce/policy.ts merges them with `bounce`. */
  bouncePolicies: BouncePolicy[];
  dkim: ConfigFile["dkim"] & { masterKeyFile: string };
  queue: ConfigFile["queue"];
  outbox: ConfigFile["outbox"];
  events: ConfigFile["events"];
  log: ConfigFile["log"];
  rabbitmq?: ConfigFile["rabbitmq"];
  cluster: ConfigFile["cluster"];
  /** Where the file came from, or null for built-in defaults. */
  source: string | null;
}
