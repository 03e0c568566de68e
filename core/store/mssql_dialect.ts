/**
 * Microsoft SQL Server through tedious (the TDS driver) with tarn pooling, on Kysely's
 * MssqlDialect. No SQL Server runs on our machines, so this dialect is covered by compiling its
 * queries (tests/store_mssql_compile_test.ts) and by the connection string tests, not by the
 * contract suite; it stays behind the same Store interface.
 */
import { type Dialect, MssqlDialect } from "kysely";
import * as tarn from "tarn";
import * as tedious from "tedious";
import type { MssqlConnection } from "../connection/mod.ts";
import type { PoolOptions } from "./store.ts";

/** tedious' options for one connection. */
export function tediousConfig(
  conn: MssqlConnection,
  applicationName: string,
): tedious.ConnectionConfiguration {
  return {
    server: conn.host,
    authentication: {
      type: "default",
      options: { userName: conn.user, password: conn.password },
    },
    options: {
      ...(conn.port !== null ? { port: conn.port } : {}),
      ...(conn.instanceName ? { instanceName: conn.instanceName } : {}),
      database: conn.database,
      encrypt: conn.encrypt,
      trustServerCertificate: conn.trustServerCertificate,
      connectTimeout: conn.connectTimeoutMs ?? 10_000,
      appName: conn.appName ?? applicationName,
      useUTC: true,
    },
  };
}

/** A pooled Kysely dialect for SQL Server. Connections open lazily, on first use. */
export function mssqlDialect(conn: MssqlConnection, pool: PoolOptions): Dialect {
  const config = tediousConfig(conn, pool.applicationName);
  return new MssqlDialect({
    tarn: {
      ...tarn,
      options: {
        min: 0,
        max: pool.max,
        acquireTimeoutMillis: 30_000,
        idleTimeoutMillis: 60_000,
        // Fail the waiting call on the first failed connect instead of retrying until the
        // acquire timeout: the store's monitor does the retrying, with backoff.
        propagateCreateError: true,
      },
    },
    tedious: { ...tedious, connectionFactory: () => new tedious.Connection(config) },
  });
}
