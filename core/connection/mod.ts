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
import { decode, fail, queryPairs } from "./_parts.ts";
import { parseMssqlUrl } from "./mssql.ts";
import { parseGoMysqlDsn, parseMysqlUrl } from "./mysql.ts";
import { parseLibpq, parsePostgresUrl } from "./postgres.ts";
import type { DatabaseConnection, DriverName, SqliteConnection } from "./types.ts";

export { ConnectionStringError } from "./_parts.ts";
export type * from "./types.ts";

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
      return parseMssqlUrl(text);
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
