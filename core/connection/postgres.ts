/**
 * PostgreSQL connection strings: libpq `key=value` pairs or a `postgres://` URL, with libpq's
 * keywords (unused ones accepted and reported as ignored).
 */
import { fail, parsePort, splitUrl } from "./_parts.ts";
import type { PostgresConnection } from "./types.ts";

const SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] as const;

/** Keywords libpq knows that fastmta does not use; accepted and reported as ignored. */
const LIBPQ_UNUSED = new Set([
  "hostaddr",
  "passfile",
  "channel_binding",
  "client_encoding",
  "fallback_application_name",
  "keepalives",
  "keepalives_idle",
  "keepalives_interval",
  "keepalives_count",
  "tcp_user_timeout",
  "replication",
  "gssencmode",
  "sslcompression",
  "sslcert",
  "sslkey",
  "sslpassword",
  "sslrootcert",
  "sslcrl",
  "sslcrldir",
  "sslsni",
  "requirepeer",
  "ssl_min_protocol_version",
  "ssl_max_protocol_version",
  "krbsrvname",
  "gsslib",
  "service",
  "target_session_attrs",
  "load_balance_hosts",
  "pool_max_conns",
  "pool_min_conns",
  "statement_cache_capacity",
  "default_query_exec_mode",
]);

/** Reads libpq's `key=value` list: values may be 'single quoted' with \\ escapes. */
function libpqPairs(text: string): [string, string][] {
  const pairs: [string, string][] = [];
  let i = 0;
  const skipSpace = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  while (true) {
    skipSpace();
    if (i >= text.length) break;
    const keyStart = i;
    while (i < text.length && /[A-Za-z0-9_.]/.test(text[i])) i++;
    const key = text.slice(keyStart, i);
    skipSpace();
    if (key === "" || text[i] !== "=") {
      const word = text.slice(keyStart).split(/\s/)[0];
      fail(`expected key=value, found "${word.includes("=") ? word.split("=")[0] : word}"`);
    }
    i++; // "="
    skipSpace();
    let value = "";
    if (text[i] === "'") {
      i++;
      let closed = false;
      while (i < text.length) {
        const ch = text[i++];
        if (ch === "\\" && i < text.length) value += text[i++];
        else if (ch === "'") {
          closed = true;
          break;
        } else value += ch;
      }
      if (!closed) fail(`unterminated quoted value for "${key}"`);
    } else {
      while (i < text.length && !/\s/.test(text[i])) {
        if (text[i] === "\\" && i + 1 < text.length) i++;
        value += text[i++];
      }
    }
    pairs.push([key, value]);
  }
  return pairs;
}

/** libpq's `options`: `-c key=value` flags (also `--key=value`). */
function parsePgOptions(value: string, params: Record<string, string>) {
  const words = value.trim().split(/\s+/).filter(Boolean);
  for (let i = 0; i < words.length; i++) {
    let setting: string | undefined;
    if (words[i] === "-c") setting = words[++i];
    else if (words[i].startsWith("-c")) setting = words[i].slice(2);
    else if (words[i].startsWith("--")) setting = words[i].slice(2);
    const eq = setting?.indexOf("=") ?? -1;
    if (!setting || eq <= 0) fail(`parameter "options" expects "-c name=value", got "${value}"`);
    params[setting.slice(0, eq).replace(/-/g, "_")] = setting.slice(eq + 1);
  }
}

interface PgDraft {
  host: string | null;
  port: string | null;
  user: string | null;
  password: string | null;
  database: string | null;
}

function finishPostgres(draft: PgDraft, pairs: [string, string][]): PostgresConnection {
  let sslmode: PostgresConnection["sslmode"] = null;
  let connectTimeout: number | null = null;
  let applicationName: string | null = null;
  const params: Record<string, string> = {};
  const ignored: string[] = [];
  for (const [key, value] of pairs) {
    switch (key) {
      case "host":
        draft.host = value;
        break;
      case "port":
        draft.port = value;
        break;
      case "user":
        draft.user = value;
        break;
      case "password":
        draft.password = value;
        break;
      case "dbname":
        draft.database = value;
        break;
      case "sslmode":
        if (!(SSL_MODES as readonly string[]).includes(value)) {
          fail(`parameter "sslmode" expects one of ${SSL_MODES.join(", ")}, got "${value}"`);
        }
        sslmode = value as typeof SSL_MODES[number];
        break;
      case "connect_timeout":
        if (!/^\d+$/.test(value)) {
          fail(`parameter "connect_timeout" expects whole seconds, got "${value}"`);
        }
        connectTimeout = Number(value);
        break;
      case "application_name":
        applicationName = value;
        break;
      case "options":
        parsePgOptions(value, params);
        break;
      default:
        if (LIBPQ_UNUSED.has(key)) ignored.push(key);
        else params[key] = value;
    }
  }
  if (!draft.host) fail("missing host");
  if (draft.host.includes(",")) fail(`host "${draft.host}": multiple hosts are not supported`);
  const port = draft.port === null || draft.port === "" ? 5432 : parsePort(draft.port);
  if (!draft.user) fail("missing user");
  if (!draft.database) fail("missing database name (dbname)");
  const socketDir = draft.host.startsWith("/") ? draft.host : null;
  return {
    dialect: "postgres",
    host: draft.host,
    port,
    socketDir,
    user: draft.user,
    password: draft.password,
    database: draft.database,
    sslmode,
    connectTimeout,
    applicationName,
    params,
    ignored,
  };
}

/** Parses libpq `key=value` pairs. */
export function parseLibpq(text: string): PostgresConnection {
  if (!text.includes("=")) {
    fail(`expected "key=value" pairs (host=… user=… dbname=…) or a postgres:// URL`);
  }
  return finishPostgres(
    { host: null, port: null, user: null, password: null, database: null },
    libpqPairs(text),
  );
}

/** Parses a `postgres://` or `postgresql://` URL. */
export function parsePostgresUrl(text: string): PostgresConnection {
  const url = splitUrl(text);
  const database = url.path.replace(/^\//, "");
  if (database.includes("/")) fail(`database name "${database}" contains "/"`);
  return finishPostgres({
    host: url.host || null,
    port: url.port,
    user: url.user,
    password: url.password,
    database: database || null,
  }, url.query);
}
