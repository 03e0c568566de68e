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
import { StatementCache } from "./statement_cache.ts";

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
  const cache = new StatementCache<SqliteStatement>();
  const prepare = (sql: string) => adaptStatement(db.prepare(sql));
  return {
    close: () => db.close(),
    prepare: (sql: string): SqliteStatement => cache.get(sql, prepare),
  };
}

/** The longest pause between two tries for the write lock (see {@link ImmediateSqliteDriver}). */
const LOCK_RETRY_MAX_MS = 8;

function isLocked(error: unknown): boolean {
  return error instanceof Error && /database is locked|SQLITE_BUSY/.test(error.message);
}

/**
 * Begins write transactions with BEGIN IMMEDIATE, and waits for a write lock another thread holds
 * without blocking this one: SQLite's busy handler sleeps inside the call (node:sqlite is
 * synchronous), which stalled the whole thread for 1–100 ms a time, and with it the admin API
 * when the scheduler or delivery met an SMTP worker's group commit (issue 19: 275 such sleeps,
 * 1.2 s of a 16 s run on the main thread). Here BEGIN fails at once while the lock is taken and
 * is tried again after a timer (1, 2, 4, then every 8 ms) until the connection's busy timeout has
 * passed; the thread's other work runs meanwhile. Only BEGIN waits like this: once a transaction
 * holds the write lock, WAL mode makes nothing in it wait for another writer.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  #db: DatabaseSync;
  /** The connection's busy timeout (openSqlite), which bounds the wait. */
  #busyTimeoutMs: number;

  constructor(db: DatabaseSync) {
    super({ database: adaptDatabase(db) });
    this.#db = db;
    this.#busyTimeoutMs = (db.prepare("PRAGMA busy_timeout").get() as { timeout: number }).timeout;
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    const deadline = Date.now() + this.#busyTimeoutMs;
    this.#db.exec("PRAGMA busy_timeout = 0");
    try {
      for (let pause = 1;; pause = Math.min(pause * 2, LOCK_RETRY_MAX_MS)) {
        try {
          await connection.executeQuery(CompiledQuery.raw("begin immediate"));
          return;
        } catch (error) {
          if (!isLocked(error) || Date.now() >= deadline) throw error;
        }
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    } finally {
      this.#db.exec(`PRAGMA busy_timeout = ${this.#busyTimeoutMs}`);
    }
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
  return new ImmediateSqliteDriver(db);
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
