/** MySQL/MariaDB connection strings: the Go driver's DSN or a `mysql://` / `mariadb://` URL. */
import { fail, parseBool, parseGoDuration, parsePort, queryPairs, splitUrl } from "./_parts.ts";
import type { MysqlConnection } from "./types.ts";

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
export function parseGoMysqlDsn(text: string): MysqlConnection {
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

/** Parses a `mysql://` or `mariadb://` URL. */
export function parseMysqlUrl(text: string): MysqlConnection {
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
