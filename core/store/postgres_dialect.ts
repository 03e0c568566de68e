/**
 * PostgreSQL through node-postgres (npm `pg`) on Kysely's own PostgresDialect.
 *
 * Why `pg` and not postgres.js (`postgres` + `kysely-postgres-js`), though both run under Deno
 * and postgres.js is faster on raw inserts: kysely-postgres-js runs every query on a reserved
 * postgres.js connection, and when the server goes away under a transaction, Kysely's ROLLBACK
 * on that reserved connection makes postgres.js 3.4.9 write to a socket it has already dropped
 * (`socket.write` on null in a `setImmediate`): an uncaught TypeError that kills the process
 * (tests/store_reconnect.pg.mariadb_test.ts reproduced it). With `pg` the same outage is an
 * ordinary rejected query, and the pool opens fresh connections when the server is back.
 *
 * BIGINT comes back as a string, as with every driver here: the store wraps numbers in
 * `Number()` (epoch milliseconds are far below 2^53).
 */
import { type Dialect, PostgresDialect } from "kysely";
import pg from "pg";
import type { PostgresConnection } from "../connection/mod.ts";
import { bindLargeParametersByReference } from "./pg_bind.ts";
import { pgTypes } from "./pg_bytea.ts";
import { preparedStatementsWanted, prepareHotStatements } from "./pg_prepared.ts";
import type { PoolOptions } from "./store.ts";

function sslOption(mode: PostgresConnection["sslmode"]): pg.PoolConfig["ssl"] {
  switch (mode) {
    case null:
    case "disable":
    case "allow":
    case "prefer":
      // node-postgres cannot fall back from TLS to plain: "prefer" connects without TLS.
      return false;
    case "require":
      return { rejectUnauthorized: false };
    case "verify-ca":
    case "verify-full":
      return { rejectUnauthorized: true };
  }
}

/** libpq's `options`: `-c name=value` flags, spaces in values escaped with a backslash. */
function startupOptions(params: Record<string, string>): string | undefined {
  const flags = Object.entries(params).map(([name, value]) =>
    `-c ${name}=${value.replace(/\\/g, "\\\\").replace(/ /g, "\\ ")}`
  );
  return flags.length > 0 ? flags.join(" ") : undefined;
}

/**
 * How the pool's named statements are planned (pg_prepared.ts). By default, for their parameters
 * each time: a generic plan made while a table was small stays a sequential scan as the table
 * grows. A pool that only inserts and touches rows by key (accept, delivery) plans each statement
 * once, generically, with sequential scans ruled out where an index serves: a custom plan of the
 * accept insert folds the batch's body parameters into constants and copies them while planning
 * (server CPU per 100 KB body 0.69 ms custom against 0.46 ms generic: bench/pg_plan_mode.ts).
 */
function planSettings(pool: PoolOptions): Record<string, string> {
  return pool.byKeyOnly
    ? { plan_cache_mode: "force_generic_plan", enable_seqscan: "off" }
    : { plan_cache_mode: "force_custom_plan" };
}

/** A pooled Kysely dialect for PostgreSQL. Connections open lazily, on first use. */
export function postgresDialect(conn: PostgresConnection, pool: PoolOptions): Dialect {
  const prepare = preparedStatementsWanted();
  const raw = new pg.Pool({
    host: conn.socketDir ?? conn.host,
    port: conn.port,
    user: conn.user,
    password: conn.password ?? undefined,
    database: conn.database,
    ssl: sslOption(conn.sslmode),
    max: pool.max,
    connectionTimeoutMillis: (conn.connectTimeout ?? 10) * 1000,
    // Idle connections are closed after a minute; the pool reopens them on demand.
    idleTimeoutMillis: 60_000,
    keepAlive: true,
    application_name: conn.applicationName ?? pool.applicationName,
    options: startupOptions(prepare ? { ...planSettings(pool), ...conn.params } : conn.params),
    // Bodies are BYTEA: decoded natively, not by node:buffer's JavaScript hex decoder.
    types: pgTypes,
  });
  // A connection that dies (server restart, pg_terminate_backend, network) emits `error`.
  // While idle in the pool, the pool drops it and re-emits here; while checked out between two
  // statements of a transaction, nobody listens, so each client gets a listener of its own:
  // the next statement then fails ("not queryable"), the transaction fails, and the pool drops
  // the client on release. Unheard, either event would be an uncaught error ending the process.
  raw.on("error", () => {});
  raw.on("connect", (client: pg.PoolClient) => {
    client.on("error", () => {});
    // Bodies go to the socket as they are, not copied into a growing buffer (pg_bind.ts).
    bindLargeParametersByReference(client);
    // Texts this connection runs again and again are parsed and planned once (pg_prepared.ts).
    if (prepare) prepareHotStatements(client);
  });
  return new PostgresDialect({ pool: raw });
}
