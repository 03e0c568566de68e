/**
 * PostgreSQL through postgres.js (npm `postgres`) and `kysely-postgres-js`.
 *
 * Why postgres.js rather than `pg`: pure JavaScript that runs under Deno as is, reconnects a
 * terminated or dropped connection by itself on the next query (no pool `error` event that
 * would crash the process if unhandled, as `pg.Pool` does for idle clients), and multi-row
 * statements are fast (see FACTS.md). BIGINT comes back as a string: the store wraps numbers in
 * `Number()` (epoch milliseconds are far below 2^53).
 */
import { Kysely } from "kysely";
import { PostgresJSDialect } from "kysely-postgres-js";
import postgres from "postgres";
import type { PostgresConnection } from "./connection_string.ts";
import type { PoolOptions } from "./store.ts";
import type { Tables } from "./tables.ts";

function sslOption(
  mode: PostgresConnection["sslmode"],
): false | "prefer" | "require" | "verify-full" {
  switch (mode) {
    case null:
    case "disable":
      return false;
    case "allow":
    case "prefer":
      return "prefer";
    case "require":
      return "require";
    case "verify-ca":
    case "verify-full":
      return "verify-full";
  }
}

/** Opens a pooled Kysely instance on PostgreSQL. Connections open lazily, on first use. */
export function openPostgres(conn: PostgresConnection, pool: PoolOptions): Kysely<Tables> {
  const sql = postgres({
    ...(conn.socketDir
      ? { path: `${conn.socketDir}/.s.PGSQL.${conn.port}` }
      : { host: conn.host, port: conn.port }),
    user: conn.user,
    password: conn.password ?? undefined,
    database: conn.database,
    ssl: sslOption(conn.sslmode),
    max: pool.max,
    connect_timeout: conn.connectTimeout ?? 10,
    // Idle connections are closed after a minute; the pool reopens them on demand.
    idle_timeout: 60,
    // Keep `fetch_types` at its default: with `fetch_types: false`, postgres.js 3.4.9's
    // `reserve()` (which kysely-postgres-js uses for every connection) never resolves.
    connection: { application_name: conn.applicationName ?? pool.applicationName, ...conn.params },
    // `create table if not exists` and friends report notices; they are not worth a log line.
    onnotice: () => {},
  });
  return new Kysely<Tables>({ dialect: new PostgresJSDialect({ postgres: sql }) });
}
