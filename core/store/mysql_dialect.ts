/**
 * MySQL and MariaDB through mysql2's callback pool (what Kysely's MysqlDialect expects; the
 * promise pool does not fit). BIGINT comes back as an exact string (`supportBigNumbers` +
 * `bigNumberStrings`; without them large values silently lose precision) and the store wraps
 * numbers in `Number()`.
 *
 * Every connection runs READ COMMITTED: leasing uses `FOR UPDATE SKIP LOCKED`, and InnoDB's
 * default REPEATABLE READ would add gap locks that make concurrent accepts and settles wait on
 * (or deadlock with) each other. `SKIP LOCKED` needs MySQL 8.0 or MariaDB 10.6.
 */
import { type Dialect, MysqlDialect } from "kysely";
import { createPool } from "mysql2";
import { ConnectionStringError, type MysqlConnection } from "../connection/mod.ts";
import type { PoolOptions } from "./store.ts";

/** A pooled Kysely dialect for MySQL/MariaDB. Connections open lazily, on first use. */
export function mysqlDialect(conn: MysqlConnection, pool: PoolOptions): Dialect {
  let raw;
  try {
    raw = createPool({
      ...(conn.socketPath ? { socketPath: conn.socketPath } : { host: conn.host, port: conn.port }),
      user: conn.user,
      password: conn.password,
      database: conn.database,
      charset: conn.charset ?? undefined,
      timezone: conn.timezone ?? undefined,
      connectTimeout: conn.connectTimeoutMs ?? 10_000,
      ssl: conn.tls ? { rejectUnauthorized: conn.tls !== "skip-verify" } : undefined,
      supportBigNumbers: true,
      bigNumberStrings: true,
      connectionLimit: pool.max,
      maxIdle: pool.max,
      idleTimeout: 60_000,
      enableKeepAlive: true,
      keepAliveInitialDelay: 10_000,
      connectAttributes: { program_name: pool.applicationName },
    });
  } catch (error) {
    // mysql2 checks the character set when the pool is created.
    const message = (error as Error).message;
    if (/charset/i.test(message)) {
      throw new ConnectionStringError(`parameter "charset": ${message}`);
    }
    throw error;
  }
  raw.on("connection", (connection) => {
    connection.query("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
  });
  return new MysqlDialect({ pool: raw });
}
