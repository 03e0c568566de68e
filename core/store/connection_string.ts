/**
 * Connection strings → typed driver options, for every form the seed's `app.json` may carry:
 *
 * - sqlite3: a file path (`data/fastmta.db`), or a `file:` URI whose query is ignored.
 * - postgres: libpq `key=value` pairs (`host=db port=5432 user=u dbname=d password=p`) or a
 *   `postgres://` / `postgresql://` URL.
 * - mysql: the Go driver's DSN (`user:password@tcp(host:3306)/dbname?charset=utf8&parseTime=True`)
 *   or a `mysql://` / `mariadb://` URL.
 * - mssql: `sqlserver://user:password@host:1433?database=dbname` (go-mssqldb's URL form), with an
 *   optional instance name as the path (`sqlserver://u:p@host/SQLEXPRESS?database=d`).
 *
 * Pure: no driver is loaded here. A string that cannot be used throws `ConnectionStringError`
 * whose message names the part that is wrong and never repeats the password.
 */

/** Embedded SQLite: one file shared by every thread. */
export interface SqliteConnection {
  dialect: "sqlite3";
  path: string;
  /** Parameters given but not used (logged at start). */
  ignored: string[];
}

/** PostgreSQL over TCP or a Unix socket directory. */
export interface PostgresConnection {
  dialect: "postgres";
  host: string;
  port: number;
  /** Set when `host` is a directory (libpq's Unix socket convention). */
  socketDir: string | null;
  user: string;
  password: string | null;
  database: string;
  /** libpq `sslmode`; null means the driver default (no TLS). */
  sslmode: "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full" | null;
  /** Seconds; null means the default. */
  connectTimeout: number | null;
  applicationName: string | null;
  /**
   * Server settings sent at connection start (e.g. `search_path`, `TimeZone`): unknown keys, as
   * pgx (gorm's driver) treats them, plus libpq's `options=-c key=value`.
   */
  params: Record<string, string>;
  ignored: string[];
}

/** MySQL or MariaDB. */
export interface MysqlConnection {
  dialect: "mysql";
  host: string;
  port: number;
  socketPath: string | null;
  user: string;
  password: string;
  database: string;
  /** Character set for the connection (`SET NAMES`), e.g. `utf8mb4`; null: the driver's. */
  charset: string | null;
  /** How DATETIME values are read: `local`, `Z` or `±hh:mm`. fastmta stores epoch ms. */
  timezone: string | null;
  /** Milliseconds; null means the default. */
  connectTimeoutMs: number | null;
  /** TLS: false, true (verified) or "skip-verify". */
  tls: boolean | "skip-verify";
  ignored: string[];
}

/** Microsoft SQL Server. */
export interface MssqlConnection {
  dialect: "mssql";
  host: string;
  /** Null when an instance name is given (resolved by the SQL Browser service). */
  port: number | null;
  instanceName: string | null;
  user: string;
  password: string;
  database: string;
  encrypt: boolean;
  trustServerCertificate: boolean;
  /** Milliseconds; null means the default. */
  connectTimeoutMs: number | null;
  appName: string | null;
  ignored: string[];
}

/** Typed options for one database. */
export type DatabaseConnection =
  | SqliteConnection
  | PostgresConnection
  | MysqlConnection
  | MssqlConnection;

/** The driver names `database.driver` resolves to. */
export type DriverName = DatabaseConnection["dialect"];

/** A connection string that cannot be used; the message names the wrong part. */
export class ConnectionStringError extends Error {
  override name = "ConnectionStringError";
  constructor(detail: string) {
    super(`Cannot parse "database.connection": ${detail}`);
  }
}

function fail(detail: string): never {
  throw new ConnectionStringError(detail);
}

/** Parses `connection` for `driver` into the driver's options. */
export function parseConnectionString(driver: DriverName, connection: string): DatabaseConnection {
  const text = connection.trim();
  if (text === "") fail(`empty connection string for driver "${driver}"`);
  switch (driver) {
    case "sqlite3":
      return parseSqlite(text);
    case "postgres":
      return /^postgres(ql)?:\/\//i.test(text) ? parsePostgresUrl(text) : parseLibpq(text);
    case "mysql":
      return /^(mysql|mariadb):\/\//i.test(text) ? parseMysqlUrl(text) : parseGoMysqlDsn(text);
    case "mssql":
      return parseSqlServerUrl(text);
  }
}

/** A short description of where a connection goes, without the password (for logs). */
export function describeConnection(c: DatabaseConnection): string {
  switch (c.dialect) {
    case "sqlite3":
      return `sqlite3 ${c.path}`;
    case "postgres":
      return `postgres ${c.user}@${c.socketDir ?? c.host}:${c.port}/${c.database}`;
    case "mysql":
      return `mysql ${c.user}@${c.socketPath ?? `${c.host}:${c.port}`}/${c.database}`;
    case "mssql":
      return `mssql ${c.user}@${c.host}${c.instanceName ? `\\${c.instanceName}` : ""}:${
        c.port ?? ""
      }/${c.database}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

function parsePort(value: string, what = "port"): number {
  if (!/^\d{1,5}$/.test(value)) fail(`${what} "${value}" is not a number`);
  const port = Number(value);
  if (port < 1 || port > 65535) fail(`${what} "${value}" is out of range (1-65535)`);
  return port;
}

/** Go's strconv.ParseBool, which the Go drivers use for flags. */
function parseBool(name: string, value: string): boolean {
  if (/^(1|t|true)$/i.test(value)) return true;
  if (/^(0|f|false)$/i.test(value)) return false;
  fail(`parameter "${name}" expects true or false, got "${value}"`);
}

/** A Go duration ("5s", "1m30s", "500ms") or bare seconds, in milliseconds. */
function parseGoDuration(name: string, value: string): number {
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let end = 0;
  for (const match of value.matchAll(re)) {
    total += Number(match[1]) * units[match[2]];
    end = match.index + match[0].length;
  }
  if (end !== value.length || value === "") {
    fail(`parameter "${name}" expects a duration like "5s", got "${value}"`);
  }
  return Math.round(total);
}

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    fail(`${what} has a malformed %-escape`);
  }
}

/** Splits a URL's query into ordered pairs (keys as written). */
function queryPairs(query: string): [string, string][] {
  if (query === "") return [];
  return query.split("&").filter((p) => p !== "").map((pair) => {
    const eq = pair.indexOf("=");
    const key = decode((eq < 0 ? pair : pair.slice(0, eq)).replace(/\+/g, " "), "a parameter");
    const value = eq < 0 ? "" : decode(pair.slice(eq + 1).replace(/\+/g, " "), `"${key}"`);
    return [key, value];
  });
}

interface UrlParts {
  scheme: string;
  user: string | null;
  password: string | null;
  host: string;
  port: string | null;
  path: string;
  query: [string, string][];
}

/**
 * A URL split by hand: `new URL` would accept too much (and say too little about what is
 * wrong) for schemes it does not know.
 */
function splitUrl(text: string): UrlParts {
  const m = text.match(/^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#.*)?$/i);
  if (!m) fail("not a URL of the form scheme://user:password@host:port/…");
  const [, scheme, authority, path, query] = m;
  let user: string | null = null;
  let password: string | null = null;
  let hostPort = authority;
  const at = authority.lastIndexOf("@");
  if (at >= 0) {
    const userInfo = authority.slice(0, at);
    hostPort = authority.slice(at + 1);
    const colon = userInfo.indexOf(":");
    user = decode(colon < 0 ? userInfo : userInfo.slice(0, colon), "the user name");
    password = colon < 0 ? null : decode(userInfo.slice(colon + 1), "the password");
  }
  let host = hostPort;
  let port: string | null = null;
  const v6 = hostPort.match(/^\[([^\]]*)\](?::(.*))?$/);
  if (v6) {
    host = v6[1];
    port = v6[2] ?? null;
  } else if (hostPort.includes(":")) {
    const colon = hostPort.lastIndexOf(":");
    host = hostPort.slice(0, colon);
    port = hostPort.slice(colon + 1);
  }
  if (/[\s@]/.test(host)) fail(`host "${host}" is not a host name or address`);
  return {
    scheme: scheme.toLowerCase(),
    user,
    password,
    host: decode(host, "the host"),
    port: port === "" ? null : port,
    path: decode(path, "the path"),
    query: queryPairs(query ?? ""),
  };
}

// ---------------------------------------------------------------------------------------------
// SQLite

function parseSqlite(text: string): SqliteConnection {
  let path = text;
  const ignored: string[] = [];
  if (/^file:/i.test(path)) {
    const q = path.indexOf("?");
    if (q >= 0) {
      ignored.push(...queryPairs(path.slice(q + 1)).map(([k]) => k));
      path = path.slice(0, q);
    }
    path = decode(path.replace(/^file:(\/\/(?=\/))?/i, ""), "the path");
  }
  if (path === "") fail("missing file path");
  if (path === ":memory:" || /mode=memory/.test(text)) {
    fail(`an in-memory database cannot be shared between threads; give a file path`);
  }
  return { dialect: "sqlite3", path, ignored };
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

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

function parseLibpq(text: string): PostgresConnection {
  if (!text.includes("=")) {
    fail(`expected "key=value" pairs (host=… user=… dbname=…) or a postgres:// URL`);
  }
  return finishPostgres(
    { host: null, port: null, user: null, password: null, database: null },
    libpqPairs(text),
  );
}

function parsePostgresUrl(text: string): PostgresConnection {
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

// ---------------------------------------------------------------------------------------------
// MySQL / MariaDB

/** Where and as whom to connect, before the options are read. */
type MysqlDraft = Pick<
  MysqlConnection,
  "host" | "port" | "socketPath" | "user" | "password" | "database"
>;

function finishMysql(draft: MysqlDraft, pairs: [string, string][]): MysqlConnection {
  let charset: string | null = null;
  let timezone: string | null = null;
  let connectTimeoutMs: number | null = null;
  let tls: MysqlConnection["tls"] = false;
  const ignored: string[] = [];
  for (const [key, value] of pairs) {
    switch (key) {
      case "charset": {
        // The Go driver takes a list and uses the first the server knows; we take the first.
        const first = value.split(",")[0].trim();
        if (!/^[A-Za-z0-9_]+$/.test(first)) {
          fail(`parameter "charset" expects a character set name, got "${value}"`);
        }
        charset = first;
        break;
      }
      case "collation":
        if (!/^[A-Za-z0-9_]+$/.test(value)) {
          fail(`parameter "collation" expects a collation name, got "${value}"`);
        }
        charset ??= value;
        break;
      case "parseTime":
        // Go scans DATETIME into time.Time with it; fastmta stores epoch milliseconds.
        parseBool(key, value);
        break;
      case "loc":
        if (value === "Local") timezone = "local";
        else if (value === "UTC") timezone = "Z";
        else if (/^[+-]\d\d:\d\d$/.test(value)) timezone = value;
        else if (/^[A-Za-z_]+(\/[A-Za-z_+-]+)*$/.test(value)) ignored.push(key);
        else fail(`parameter "loc" expects Local, UTC or a time zone name, got "${value}"`);
        break;
      case "timeout":
        connectTimeoutMs = parseGoDuration(key, value);
        break;
      case "tls":
      case "ssl":
        if (value === "skip-verify" || value === "preferred") tls = "skip-verify";
        else tls = parseBool(key, value);
        break;
      case "readTimeout":
      case "writeTimeout":
        parseGoDuration(key, value);
        ignored.push(key);
        break;
      default:
        ignored.push(key);
    }
  }
  if (!draft.user) fail("missing user");
  if (!draft.database) fail("missing database name");
  return { dialect: "mysql", ...draft, charset, timezone, connectTimeoutMs, tls, ignored };
}

function mysqlAddress(address: string): { host: string; port: number } {
  if (address === "") return { host: "127.0.0.1", port: 3306 };
  const v6 = address.match(/^\[([^\]]+)\](?::(.*))?$/);
  if (v6) return { host: v6[1], port: v6[2] ? parsePort(v6[2]) : 3306 };
  const colon = address.lastIndexOf(":");
  if (colon < 0) return { host: address, port: 3306 };
  const host = address.slice(0, colon);
  if (host === "") fail(`address "${address}" is missing its host`);
  return { host, port: parsePort(address.slice(colon + 1)) };
}

/**
 * go-sql-driver/mysql: `[user[:password]@][protocol[(address)]]/dbname[?param=value&…]`.
 * Like the Go driver, the last "/" starts the database name and the last "@" before it ends
 * the credentials, so a password may contain "@" and ":"; nothing is %-decoded.
 */
function parseGoMysqlDsn(text: string): MysqlConnection {
  // As in Go: the last "/" of the whole string, then the first "?" after it (so values in the
  // query that contain "/" must be %-encoded, as the Go driver expects for `loc`).
  const slash = text.lastIndexOf("/");
  if (slash < 0) fail(`missing "/dbname" (expected user:password@tcp(host:port)/dbname)`);
  const q = text.indexOf("?", slash);
  const database = q < 0 ? text.slice(slash + 1) : text.slice(slash + 1, q);
  const query = q < 0 ? "" : text.slice(q + 1);
  const head = text.slice(0, slash);
  const at = head.lastIndexOf("@");
  const userInfo = at < 0 ? "" : head.slice(0, at);
  const net = at < 0 ? head : head.slice(at + 1);
  const colon = userInfo.indexOf(":");
  const user = colon < 0 ? userInfo : userInfo.slice(0, colon);
  const password = colon < 0 ? "" : userInfo.slice(colon + 1);

  let socketPath: string | null = null;
  let address = { host: "127.0.0.1", port: 3306 };
  if (net !== "") {
    const m = net.match(/^([a-z0-9]*)(?:\((.*)\))?$/i);
    if (!m) {
      fail(`address part "${net}" is malformed (expected tcp(host:port) or unix(/path))`);
    }
    const protocol = (m[1] || "tcp").toLowerCase();
    const inner = m[2] ?? "";
    if (protocol === "unix") {
      if (inner === "") fail("protocol unix needs a socket path: unix(/path/to/mysqld.sock)");
      socketPath = inner;
    } else if (protocol === "tcp" || protocol === "tcp4" || protocol === "tcp6") {
      address = mysqlAddress(inner);
    } else {
      fail(`protocol "${m[1]}" is not supported (expected tcp or unix)`);
    }
  }
  return finishMysql(
    { ...address, socketPath, user, password, database },
    queryPairs(query),
  );
}

function parseMysqlUrl(text: string): MysqlConnection {
  const url = splitUrl(text);
  const database = url.path.replace(/^\//, "");
  if (database.includes("/")) fail(`database name "${database}" contains "/"`);
  let socketPath: string | null = null;
  const pairs = url.query.filter(([key, value]) => {
    if (key === "socket" || key === "socketPath") {
      socketPath = value;
      return false;
    }
    return true;
  });
  if (!url.host && !socketPath) fail("missing host");
  return finishMysql({
    host: url.host || "localhost",
    port: url.port === null ? 3306 : parsePort(url.port),
    socketPath,
    user: url.user ?? "",
    password: url.password ?? "",
    database,
  }, pairs);
}

// ---------------------------------------------------------------------------------------------
// MSSQL

function parseSqlServerUrl(text: string): MssqlConnection {
  if (!/^sqlserver:\/\//i.test(text)) {
    fail(`expected a URL like sqlserver://user:password@host:1433?database=dbname`);
  }
  const url = splitUrl(text);
  if (!url.host) fail("missing host");
  const instanceName = url.path.replace(/^\//, "") || null;
  if (instanceName?.includes("/")) fail(`instance name "${instanceName}" contains "/"`);
  let database = "";
  let encrypt = true;
  let trustServerCertificate = false;
  let connectTimeoutMs: number | null = null;
  let appName: string | null = null;
  let user = url.user ?? "";
  let password = url.password ?? "";
  const ignored: string[] = [];
  for (const [rawKey, value] of url.query) {
    const key = rawKey.toLowerCase();
    switch (key) {
      case "database":
        database = value;
        break;
      case "user id":
        user = value;
        break;
      case "password":
        password = value;
        break;
      case "encrypt":
        if (/^(disable|optional)$/i.test(value)) encrypt = false;
        else if (/^(strict|mandatory)$/i.test(value)) encrypt = true;
        else encrypt = parseBool(rawKey, value);
        break;
      case "trustservercertificate":
        trustServerCertificate = parseBool(rawKey, value);
        break;
      case "connection timeout":
      case "dial timeout":
        if (!/^\d+$/.test(value)) {
          fail(`parameter "${rawKey}" expects whole seconds, got "${value}"`);
        }
        connectTimeoutMs = Number(value) * 1000;
        break;
      case "app name":
        appName = value;
        break;
      default:
        ignored.push(rawKey);
    }
  }
  if (!user) fail("missing user");
  if (!database) fail(`missing database name (add "?database=dbname")`);
  return {
    dialect: "mssql",
    host: url.host,
    port: url.port !== null ? parsePort(url.port) : instanceName ? null : 1433,
    instanceName,
    user,
    password,
    database,
    encrypt,
    trustServerCertificate,
    connectTimeoutMs,
    appName,
    ignored,
  };
}
