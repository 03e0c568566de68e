/**
 * Kysely on Deno's built-in `node:sqlite` (no native addon, so it survives `deno compile`).
 * Kysely's own SqliteDialect expects better-sqlite3's statement shape; this adapter bridges the
 * two (`reader` from the statement's columns, parameters spread into `all/run/iterate`), and
 * opens write transactions with BEGIN IMMEDIATE so that two connections in different threads
 * queue on the write lock instead of failing with SQLITE_BUSY on a read→write upgrade.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import {
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  SqliteAdapter,
  type SqliteDatabase,
  SqliteDialect,
  SqliteDriver,
  type SqliteStatement,
} from "kysely";
import { CompiledQuery } from "kysely";

/** Options for opening an SQLite database file. */
export interface NodeSqliteOptions {
  /** `FULL` where a commit must survive power loss (accepting mail), `NORMAL` elsewhere. */
  synchronous: "FULL" | "NORMAL";
  busyTimeoutMs?: number;
}

/** Opens (creating if needed) an SQLite file in WAL mode with the given durability. */
export function openSqlite(path: string, options: NodeSqliteOptions): DatabaseSync {
  const db = new DatabaseSync(path);
  db.exec(`PRAGMA busy_timeout = ${options.busyTimeoutMs ?? 30_000}`);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec(`PRAGMA synchronous = ${options.synchronous}`);
  db.exec("PRAGMA foreign_keys = ON");
  return db;
}

function adaptStatement(stmt: StatementSync): SqliteStatement {
  return {
    reader: stmt.columns().length > 0,
    all: (parameters) => stmt.all(...(parameters as never[])),
    run: (parameters) => {
      const result = stmt.run(...(parameters as never[]));
      return { changes: result.changes, lastInsertRowid: result.lastInsertRowid };
    },
    iterate: (parameters) => stmt.iterate(...(parameters as never[])),
  };
}

/** Wraps a `DatabaseSync` in the interface Kysely's SQLite driver calls, caching statements. */
export function adaptDatabase(db: DatabaseSync): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => db.close(),
    prepare(sql: string): SqliteStatement {
      let stmt = cache.get(sql);
      if (!stmt) {
        stmt = adaptStatement(db.prepare(sql));
        if (cache.size > 500) cache.clear();
        cache.set(sql, stmt);
      }
      return stmt;
    },
  };
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("begin immediate"));
  }
}

/**
 * SQLite does run DDL inside transactions; Kysely's adapter says it does not, which makes its
 * Migrator skip both the transaction and the lock, so two processes migrating one fresh file race
 * ("table already exists"). Saying yes lets the Migrator wrap the run in BEGIN IMMEDIATE: the
 * second process waits for the write lock, then finds the schema up to date.
 */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

/** Kysely's SQLite driver on `db`, beginning write transactions with BEGIN IMMEDIATE. */
export function immediateDriver(db: DatabaseSync): Driver {
  return new ImmediateSqliteDriver({ database: adaptDatabase(db) });
}

/**
 * Kysely dialect for `node:sqlite`. `driver` makes the driver (by default one of its own on
 * `db`; the store passes its thread's shared connection, see sqlite_thread_connection.ts).
 */
export class NodeSqliteDialect extends SqliteDialect {
  #driver: () => Driver;
  constructor(db: DatabaseSync, driver: () => Driver = () => immediateDriver(db)) {
    super({ database: adaptDatabase(db) });
    this.#driver = driver;
  }
  override createDriver(): Driver {
    return this.#driver();
  }
  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}
