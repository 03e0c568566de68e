/**
 * The store: durable state in SQL, one repository module per aggregate (see store.ts for the
 * role interfaces callers take), opened here on whichever database the configuration names.
 * SQLite (the embedded default) runs on `node:sqlite`; PostgreSQL on postgres.js; MySQL/MariaDB
 * on mysql2; SQL Server on tedious. Drivers are imported only when used, so a
 * node on SQLite never loads the others.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { type Dialect, Kysely } from "kysely";
import type { Config } from "../config/mod.ts";
import { ConfigError } from "../config/error.ts";
import { log } from "../log.ts";
import {
  ConnectionStringError,
  type DatabaseConnection,
  describeConnection,
  parseConnectionString,
} from "../connection/mod.ts";
import { ConnectionMonitor, type MonitorOptions } from "./health.ts";
import { FileSystemFence } from "./fs_fence.ts";
import { monitoredDialect } from "./monitored_dialect.ts";
import { immediateDriver, NodeSqliteDialect } from "./sqlite_dialect.ts";
import { threadSqliteConnection } from "./sqlite_thread_connection.ts";
import { type BodySpool, createSqlStore, type SqlStore } from "./sql_store.ts";
import { SegmentWriter, spoolDirFor } from "../spool/mod.ts";
import type { PoolOptions } from "./store.ts";
import type { Tables } from "./tables.ts";

export type * from "./store.ts";
export { createSqlStore, dueUnitsQuery, type SqlStore } from "./sql_store.ts";
export { QUEUE_GROUPINGS } from "./queue_summary.ts";
export { StoreUnavailableError } from "./health.ts";
export { scopesFor, SUPPRESSION_SOURCES } from "./suppressions.ts";
export { UNIT_SEARCH_STATES } from "./queue_search.ts";
export type { SpoolRef } from "../spool/mod.ts";

/**
 * A SQLite file's body spool: always its folder (spooled bodies stay readable after a switch
 * back to "database"), and a writer of this store's own when `database.body_spool` is
 * "segments". An in-memory database has neither.
 */
function sqliteSpool(config: Config, path: string): BodySpool | null {
  if (path === ":memory:" || path === "") return null;
  const dir = spoolDirFor(path);
  return {
    dir,
    writer: config.database.bodySpool === "segments" ? new SegmentWriter(dir) : null,
  };
}

/** How a connection will be used; decides SQLite's `synchronous` level. */
export type StoreRole = "accept" | "deliver" | "admin";

/** Extra knobs for `openStore`, mostly for tests. */
export interface OpenStoreOptions {
  /**
   * The store only inserts and reads or writes rows by key, so a server database may plan its
   * statements once, generically (postgres_dialect.ts). Default: for the accept role.
   */
  byKeyOnly?: boolean;
  /** Where connection state changes are logged (default: the `store` log line). */
  log?: (line: string) => void;
  /** Time bound and reconnect backoff of store calls. */
  monitor?: MonitorOptions;
}

async function serverDialect(
  conn: Exclude<DatabaseConnection, { dialect: "sqlite3" }>,
  pool: PoolOptions,
): Promise<Dialect> {
  switch (conn.dialect) {
    case "postgres":
      return (await import("./postgres_dialect.ts")).postgresDialect(conn, pool);
    case "mysql":
      return (await import("./mysql_dialect.ts")).mysqlDialect(conn, pool);
    case "mssql":
      return (await import("./mssql_dialect.ts")).mssqlDialect(conn, pool);
  }
}

/**
 * Opens a store connection (a pool of up to `database.pool_size` connections on a server
 * database) for one thread. Nothing connects yet: the first call does, and a database that is
 * down at start or goes away later is retried (see health.ts).
 *
 * SQLite: the stores of one thread on one file share one connection (sqlite_thread_connection.ts),
 * so a thread never waits on a write lock held by itself. Durability: WAL with `synchronous=FULL`
 * for the accept role, so a committed batch is fsync'd before SMTP says 250 and survives power
 * loss (on a shared connection each store's turn runs at its own level). Other roles use `NORMAL`: in
 * WAL that still survives a process crash (kill -9); on power loss it can only lose a recent
 * settle or lease, which means a repeated delivery (at-least-once), never a lost message. Server
 * databases commit durably by their own settings (PostgreSQL `synchronous_commit`, InnoDB
 * `innodb_flush_log_at_trx_commit`), whose defaults are durable.
 */
export async function openStore(
  config: Config,
  role: StoreRole,
  options: OpenStoreOptions = {},
): Promise<SqlStore> {
  const { driver, connection, poolSize } = config.database;
  let conn: DatabaseConnection;
  try {
    conn = parseConnectionString(driver, connection);
  } catch (error) {
    if (error instanceof ConnectionStringError) throw new ConfigError(error.message);
    throw error;
  }
  const write = options.log ?? ((line: string) => log(`store(${role})`, line));
  if (conn.ignored.length > 0) {
    write(`ignoring connection parameters: ${conn.ignored.join(", ")}`);
  }
  const monitor = new ConnectionMonitor(describeConnection(conn), write, options.monitor);

  if (conn.dialect === "sqlite3") {
    mkdirSync(dirname(conn.path), { recursive: true });
    // Stores of one thread share its connection to the file (sqlite_thread_connection.ts).
    const synchronous = role === "accept" ? "FULL" : "NORMAL";
    const shared = threadSqliteConnection(conn.path, { synchronous }, immediateDriver);
    const db = new Kysely<Tables>({
      dialect: monitoredDialect(
        new NodeSqliteDialect(shared.raw, () => shared.driver(synchronous)),
        monitor,
        { timedStatements: false }, // synchronous calls: monitored_dialect.ts says why
      ),
    });
    return createSqlStore(
      db,
      "sqlite3",
      () => db.destroy(),
      monitor,
      sqliteSpool(config, conn.path),
      role === "accept" && conn.path !== ":memory:" && conn.path !== ""
        ? new FileSystemFence(dirname(conn.path))
        : null,
    );
  }
  let dialect: Dialect;
  try {
    dialect = await serverDialect(conn, {
      max: poolSize,
      applicationName: `fastmta-${config.nodeId}-${role}`.slice(0, 63),
      byKeyOnly: options.byKeyOnly ?? role === "accept",
    });
  } catch (error) {
    if (error instanceof ConnectionStringError) throw new ConfigError(error.message);
    throw error;
  }
  const db = new Kysely<Tables>({ dialect: monitoredDialect(dialect, monitor) });
  return createSqlStore(db, conn.dialect, () => db.destroy(), monitor);
}
