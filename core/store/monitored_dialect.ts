/**
 * Puts every statement of a Kysely dialect under a `ConnectionMonitor` (health.ts), by wrapping
 * its driver: connecting, each query, and BEGIN/COMMIT/ROLLBACK. So every store method (and a
 * test's direct use of `store.db`) is bounded in time, turns connection failures into
 * `StoreUnavailableError`, and fails fast while the database is away, without each method having
 * to remember it.
 *
 * Only connecting and BEGIN fail fast: a statement inside a transaction, COMMIT and ROLLBACK
 * always reach the driver, so a transaction is never abandoned half-way on a live connection.
 *
 * With `timedStatements: false` (SQLite) statements, COMMIT and ROLLBACK run without the
 * monitor's timer: node:sqlite runs them synchronously inside the call, so a timer could never
 * fire before they return, and arming and clearing one per statement was pure cost on the hot
 * path. Connecting and BEGIN, which wait asynchronously (the thread's turn, the write lock),
 * stay bounded.
 */
import type {
  DatabaseConnection,
  Dialect,
  Driver,
  QueryCompiler,
  TransactionSettings,
} from "kysely";
import type { ConnectionMonitor } from "./health.ts";

class MonitoredConnection implements DatabaseConnection {
  readonly inner: DatabaseConnection;
  #monitor: ConnectionMonitor;
  #timed: boolean;

  constructor(inner: DatabaseConnection, monitor: ConnectionMonitor, timed: boolean) {
    this.inner = inner;
    this.#monitor = monitor;
    this.#timed = timed;
  }

  executeQuery: DatabaseConnection["executeQuery"] = (query, options) =>
    this.#monitor.run(() => this.inner.executeQuery(query, options), {
      failFast: false,
      write: !READ_ONLY.test(query.sql),
      timed: this.#timed,
    });

  streamQuery: DatabaseConnection["streamQuery"] = (query, chunkSize, options) =>
    this.inner.streamQuery(query, chunkSize, options);
}

/** Statements that write nothing (a success says nothing about free space). */
const READ_ONLY = /^\s*(select|with|pragma|show|explain|begin|set)\b/i;

/**
 * SQLite rolls a transaction back by itself when a statement fails with SQLITE_FULL (or
 * SQLITE_IOERR, SQLITE_NOMEM); Kysely's ROLLBACK then fails with this, and would be thrown in
 * place of the real cause.
 */
const ALREADY_ROLLED_BACK = /cannot rollback - no transaction is active/;

function unwrap(connection: DatabaseConnection): DatabaseConnection {
  return connection instanceof MonitoredConnection ? connection.inner : connection;
}

class MonitoredDriver implements Driver {
  #inner: Driver;
  #monitor: ConnectionMonitor;
  #timed: boolean;

  constructor(inner: Driver, monitor: ConnectionMonitor, timed: boolean) {
    this.#inner = inner;
    this.#monitor = monitor;
    this.#timed = timed;
  }

  init(): Promise<void> {
    return this.#inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const inner = await this.#monitor.run(() => this.#inner.acquireConnection());
    return new MonitoredConnection(inner, this.#monitor, this.#timed);
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.#monitor.run(() => this.#inner.beginTransaction(unwrap(connection), settings));
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#monitor.run(() => this.#inner.commitTransaction(unwrap(connection)), {
      failFast: false,
      write: true,
      timed: this.#timed,
    });
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await this.#monitor.run(() => this.#inner.rollbackTransaction(unwrap(connection)), {
        failFast: false,
        timed: this.#timed,
      });
    } catch (error) {
      if (!ALREADY_ROLLED_BACK.test((error as Error).message)) throw error;
    }
  }

  async savepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler["compileQuery"],
  ): Promise<void> {
    await this.#inner.savepoint?.(unwrap(connection), name, compile);
  }

  async rollbackToSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler["compileQuery"],
  ): Promise<void> {
    await this.#inner.rollbackToSavepoint?.(unwrap(connection), name, compile);
  }

  async releaseSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler["compileQuery"],
  ): Promise<void> {
    await this.#inner.releaseSavepoint?.(unwrap(connection), name, compile);
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.#inner.releaseConnection(unwrap(connection));
  }

  destroy(): Promise<void> {
    return this.#inner.destroy();
  }
}

/** `dialect` with every statement run under `monitor` (timed unless `timedStatements` is false). */
export function monitoredDialect(
  dialect: Dialect,
  monitor: ConnectionMonitor,
  options: { timedStatements?: boolean } = {},
): Dialect {
  const timed = options.timedStatements ?? true;
  return {
    createAdapter: () => dialect.createAdapter(),
    createDriver: () => new MonitoredDriver(dialect.createDriver(), monitor, timed),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createQueryCompiler: () => dialect.createQueryCompiler(),
  };
}
