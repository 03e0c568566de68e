/**
 * One SQLite connection per database file per thread, shared by every store opened on it there.
 *
 * Why: node:sqlite is synchronous, so a write that meets another connection's write lock waits
 * for it (busy_timeout) inside the call, blocking its whole thread. When the lock is held by a
 * second connection of the SAME thread whose transaction is between two awaits (the main thread
 * has the scheduler's store, the REST API's accept path and the outbox's), that transaction can
 * only finish once the blocked call returns: the thread stalls for the full busy timeout, then
 * the write fails with "database is locked" — and every other thread that needs the lock (SMTP
 * accepts, settles) waits with it. On one shared connection the stores' transactions queue on
 * an in-process lock instead (awaited, so the thread runs on); other threads still meet the
 * SQLite lock, which only blocks the waiting thread while the holder goes on.
 *
 * Durability is per store, not per connection: each store's turn sets `synchronous` to what
 * that store asks (FULL for the accept role, NORMAL otherwise) before its statements run. A
 * pragma switch is a flag in the connection (no I/O), and in WAL a FULL commit fsyncs every
 * frame before it, so an accept commit is as durable as ever while the scheduler's settles and
 * leases on the same main-thread connection no longer pay an fsync each (issue 19: they did
 * once the REST accept path opened on that thread). The connection closes with its last store.
 */
import { resolve } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import type { DatabaseConnection, Driver, QueryCompiler, TransactionSettings } from "kysely";
import { type NodeSqliteOptions, openSqlite } from "./sqlite_dialect.ts";

/** Hands out the one connection in turn (a transaction keeps it until commit or rollback). */
class TurnLock {
  #held = false;
  #waiting: (() => void)[] = [];

  async obtain(): Promise<void> {
    if (!this.#held) {
      this.#held = true;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next) next(); // the lock passes on, still held
    else this.#held = false;
  }
}

/** A file's connection in this thread, with the stores that use it. */
export class ThreadSqliteConnection {
  readonly path: string;
  readonly raw: DatabaseSync;
  #synchronous: NodeSqliteOptions["synchronous"];
  #inner: Driver;
  #initialised: Promise<void> | null = null;
  #lock = new TurnLock();
  #users = 0;
  #onClosed: () => void;

  constructor(
    path: string,
    options: NodeSqliteOptions,
    makeDriver: (raw: DatabaseSync) => Driver,
    onClosed: () => void,
  ) {
    this.path = path;
    this.raw = openSqlite(path, options);
    this.#synchronous = options.synchronous;
    this.#inner = makeDriver(this.raw);
    this.#onClosed = onClosed;
  }

  get synchronous(): NodeSqliteOptions["synchronous"] {
    return this.#synchronous;
  }

  /**
   * Sets the connection's durability for the turn that holds the lock (only between
   * transactions: a turn begins with no transaction open).
   */
  /** @internal */ use(synchronous: NodeSqliteOptions["synchronous"]): void {
    if (synchronous === this.#synchronous) return;
    this.raw.exec(`PRAGMA synchronous = ${synchronous}`);
    this.#synchronous = synchronous;
  }

  /**
   * A driver for one more store (one Kysely instance) whose statements run at `synchronous`;
   * its `destroy` lets go of the connection.
   */
  driver(synchronous: NodeSqliteOptions["synchronous"]): Driver {
    this.#users++;
    return new SharedDriver(this, synchronous);
  }

  /** @internal */ init(): Promise<void> {
    this.#initialised ??= this.#inner.init();
    return this.#initialised;
  }
  /** @internal */ get inner(): Driver {
    return this.#inner;
  }
  /** @internal */ get lock(): TurnLock {
    return this.#lock;
  }
  /** @internal */ async letGo(): Promise<void> {
    if (--this.#users > 0) return;
    this.#onClosed();
    await this.#inner.destroy();
  }
}

/** Kysely's driver for one store on the shared connection. */
class SharedDriver implements Driver {
  #shared: ThreadSqliteConnection;
  #synchronous: NodeSqliteOptions["synchronous"];
  #destroyed = false;

  constructor(shared: ThreadSqliteConnection, synchronous: NodeSqliteOptions["synchronous"]) {
    this.#shared = shared;
    this.#synchronous = synchronous;
  }

  init(): Promise<void> {
    return this.#shared.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.#shared.lock.obtain();
    try {
      this.#shared.use(this.#synchronous);
      return await this.#shared.inner.acquireConnection();
    } catch (error) {
      this.#shared.lock.release();
      throw error;
    }
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    try {
      await this.#shared.inner.releaseConnection(connection);
    } finally {
      this.#shared.lock.release();
    }
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.#shared.inner.beginTransaction(connection, settings);
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#shared.inner.commitTransaction(connection);
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#shared.inner.rollbackTransaction(connection);
  }

  async savepoint(c: DatabaseConnection, name: string, compile: QueryCompiler["compileQuery"]) {
    await this.#shared.inner.savepoint?.(c, name, compile);
  }

  async rollbackToSavepoint(
    c: DatabaseConnection,
    name: string,
    compile: QueryCompiler["compileQuery"],
  ) {
    await this.#shared.inner.rollbackToSavepoint?.(c, name, compile);
  }

  async releaseSavepoint(
    c: DatabaseConnection,
    name: string,
    compile: QueryCompiler["compileQuery"],
  ) {
    await this.#shared.inner.releaseSavepoint?.(c, name, compile);
  }

  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    await this.#shared.letGo();
  }
}

/** This thread's open connections, by absolute file path. */
const OPEN = new Map<string, ThreadSqliteConnection>();

/**
 * This thread's connection to the file at `path` (opened if there is none; `options` apply to a
 * new one). `:memory:` databases are each their own, so never shared.
 */
export function threadSqliteConnection(
  path: string,
  options: NodeSqliteOptions,
  makeDriver: (raw: DatabaseSync) => Driver,
): ThreadSqliteConnection {
  if (path === ":memory:" || path === "") {
    return new ThreadSqliteConnection(path, options, makeDriver, () => {});
  }
  const key = resolve(path);
  let shared = OPEN.get(key);
  if (!shared) {
    shared = new ThreadSqliteConnection(key, options, makeDriver, () => OPEN.delete(key));
    OPEN.set(key, shared);
  }
  return shared;
}
