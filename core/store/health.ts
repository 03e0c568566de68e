/**
 * Database reachability for one store: every statement runs through `ConnectionMonitor.run`
 * (monitored_dialect.ts wraps the Kysely driver), which bounds it in time, recognises connection failures (refused, reset, terminated by the
 * server, timed out), logs the change between reachable and unreachable once each way, and
 * backs off while the database is away.
 *
 * The pools reconnect by themselves (postgres.js and mysql2 open a new connection for the next
 * query after one died); what this adds is backoff — while the database is down, calls inside
 * the backoff window fail at once with `StoreUnavailableError` instead of each waiting for a
 * connect timeout; the first call after the window is the next reconnect attempt — and the
 * state that `/healthz` and the logs report.
 *
 * Callers keep their contracts: the acceptor answers 451 (the client retries), the scheduler
 * retries on its poll timer, and a delivery worker whose settle fails leaves the units leased,
 * so they are delivered again after the lease (at-least-once, nothing dropped).
 *
 * A full disk (SQLITE_FULL, ENOSPC, PostgreSQL 53100, MySQL 1114/1021) is the same kind of
 * outage for the callers: the write fails as `StoreUnavailableError` naming the real cause, so
 * the acceptor answers 4xx and a settle is held and retried until space is back (no unit
 * delivered twice). Reads still work on a full disk, so only a write that succeeds ends that
 * state; until then `status()` is not ok (`/healthz` 503; `storageFull` for readiness checks).
 */
import { metrics } from "../metrics/mod.ts";

/** What `/healthz` reports about the database. */
export interface StoreHealthStatus {
  ok: boolean;
  /** Writes fail because the database's storage is full (a disk-state check for readiness). */
  storageFull?: boolean;
  /** When the current state began (epoch ms). */
  since: number;
  /** The last connection error while unreachable, else null. */
  error: string | null;
}

/** A store call failed because the database could not be reached (or did not answer in time). */
export class StoreUnavailableError extends Error {
  override name = "StoreUnavailableError";
}

/** Error codes that mean the connection, not the statement, failed. */
const CONNECTION_CODES = new Set([
  // Node sockets and DNS
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  // postgres.js
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  // PostgreSQL SQLSTATE: admin/crash shutdown, cannot connect now, too many connections
  "57P01",
  "57P02",
  "57P03",
  "53300",
  // mysql2
  "PROTOCOL_CONNECTION_LOST",
  "PROTOCOL_SEQUENCE_TIMEOUT",
  "ER_CON_COUNT_ERROR",
  "ER_SERVER_SHUTDOWN",
  "ER_CONNECTION_KILLED",
  "ER_QUERY_INTERRUPTED",
  // tedious
  "ESOCKET",
  "ETIMEOUT",
  "ECONNCLOSED",
]);

/** MySQL/MariaDB error numbers for lost or killed connections. */
const MYSQL_CONNECTION_ERRNOS = new Set([1053, 1040, 1927, 2002, 2003, 2006, 2013]);

/** True when `error` says the database connection failed (rather than the SQL). */
export function isConnectionError(error: unknown): boolean {
  for (let e = error, depth = 0; e && typeof e === "object" && depth < 5; depth++) {
    const { code, errno, fatal, message } = e as {
      code?: unknown;
      errno?: unknown;
      fatal?: unknown;
      message?: unknown;
    };
    if (typeof code === "string" && (CONNECTION_CODES.has(code) || code.startsWith("08"))) {
      return true;
    }
    if (typeof errno === "number" && MYSQL_CONNECTION_ERRNOS.has(errno)) return true;
    if (fatal === true) return true; // mysql2: the connection is unusable
    if (
      typeof message === "string" &&
      /connection (is )?(closed|lost|terminated|ended)|closed state|socket hang up|not queryable|Connection terminated|Failed to connect|Could not connect/i
        .test(message)
    ) {
      return true;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Disk-full codes: PostgreSQL disk_full, MySQL table full / disk full, and the OS's. */
const FULL_CODES = new Set([
  "53100",
  "ENOSPC",
  "ER_RECORD_FILE_FULL",
  "ER_DISK_FULL",
  "SQLITE_FULL",
]);
const MYSQL_FULL_ERRNOS = new Set([1021, 1114]);

/** True when `error` says the database's storage is full (the write, not the SQL, failed). */
export function isStorageFullError(error: unknown): boolean {
  for (let e = error, depth = 0; e && typeof e === "object" && depth < 5; depth++) {
    const { code, errno, message } = e as { code?: unknown; errno?: unknown; message?: unknown };
    if (typeof code === "string" && FULL_CODES.has(code)) return true;
    if (typeof errno === "number" && MYSQL_FULL_ERRNOS.has(errno)) return true;
    if (
      typeof message === "string" &&
      /database or disk is full|SQLITE_FULL|No space left on device|could not extend file/i
        .test(message)
    ) {
      return true;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Options for a `ConnectionMonitor`. */
export interface MonitorOptions {
  /** A store call that takes longer fails (the database counts as unreachable). */
  timeoutMs?: number;
  /** First and largest wait between reconnect attempts while unreachable. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/** Tracks whether the database answers; see the module comment. */
export class ConnectionMonitor {
  #target: string;
  #log: (line: string) => void;
  #timeoutMs: number;
  #backoffMinMs: number;
  #backoffMaxMs: number;
  #now: () => number;
  #ok = true;
  #since: number;
  #error: string | null = null;
  #backoffMs = 0;
  #nextTryAt = 0;
  /** The storage-full error while writes fail for lack of space, else null. */
  #full: string | null = null;
  #fullSince = 0;

  constructor(target: string, log: (line: string) => void, options: MonitorOptions = {}) {
    this.#target = target;
    this.#log = log;
    this.#timeoutMs = options.timeoutMs ?? 120_000;
    this.#backoffMinMs = options.backoffMinMs ?? 250;
    this.#backoffMaxMs = options.backoffMaxMs ?? 10_000;
    this.#now = options.now ?? Date.now;
    this.#since = this.#now();
  }

  /** The current state. */
  status(): StoreHealthStatus {
    if (this.#ok && this.#full !== null) {
      return { ok: false, storageFull: true, since: this.#fullSince, error: this.#full };
    }
    return {
      ok: this.#ok,
      storageFull: this.#full !== null,
      since: this.#since,
      error: this.#error,
    };
  }

  /**
   * Runs one database operation under the monitor. With `failFast` (the default), while the
   * database is away and the backoff has not elapsed, it fails at once without trying. With
   * `timed: false` no timer bounds it: for a call that cannot be left waiting (a synchronous
   * SQLite statement, which no timer could interrupt anyway).
   */
  async run<T>(
    fn: () => Promise<T>,
    options: { failFast?: boolean; write?: boolean; timed?: boolean } = {},
  ): Promise<T> {
    if (options.failFast !== false && !this.#ok && this.#now() < this.#nextTryAt) {
      throw new StoreUnavailableError(
        `Cannot reach the database (${this.#target}), unavailable since ${
          new Date(this.#since).toISOString()
        }: ${this.#error}`,
      );
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = options.timed === false ? null : new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StoreUnavailableError(`no answer within ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      );
    });
    try {
      const result = await (timeout ? Promise.race([fn(), timeout]) : fn());
      if (!this.#ok) this.#up();
      if (this.#full !== null && options.write) this.#spaceBack();
      return result;
    } catch (error) {
      if (
        error instanceof StoreUnavailableError &&
        (error.message.startsWith("Cannot reach") || error.message.startsWith("Database storage"))
      ) {
        throw error; // already reported by an inner call
      }
      if (isStorageFullError(error)) {
        const message = (error as Error).message || String(error);
        this.#storageFull(message);
        throw new StoreUnavailableError(
          `Database storage is full (${this.#target}): ${message}`,
          { cause: error },
        );
      }
      if (error instanceof StoreUnavailableError || isConnectionError(error)) {
        const message = (error as Error).message || String(error);
        this.#down(message);
        throw new StoreUnavailableError(
          `Cannot reach the database (${this.#target}): ${message}`,
          { cause: error },
        );
      }
      throw error;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  #storageFull(message: string) {
    if (this.#full === null) {
      this.#fullSince = this.#now();
      this.#log(
        `database storage full (${this.#target}): ${message}; writes are refused (4xx) or ` +
          `held and retried until there is space again`,
      );
    }
    this.#full = message;
  }

  #spaceBack() {
    const seconds = ((this.#now() - this.#fullSince) / 1000).toFixed(1);
    this.#log(`database storage writable again (${this.#target}) after ${seconds} s`);
    this.#full = null;
  }

  #down(message: string) {
    metrics.inc("fastmta_database_errors_total");
    const now = this.#now();
    if (this.#ok) {
      this.#ok = false;
      this.#since = now;
      this.#backoffMs = this.#backoffMinMs;
      this.#log(`database unavailable (${this.#target}): ${message}; reconnecting with backoff`);
    } else {
      this.#backoffMs = Math.min(this.#backoffMs * 2, this.#backoffMaxMs);
    }
    this.#error = message;
    this.#nextTryAt = now + this.#backoffMs;
  }

  #up() {
    const now = this.#now();
    const seconds = ((now - this.#since) / 1000).toFixed(1);
    this.#log(`database reachable again (${this.#target}) after ${seconds} s`);
    this.#ok = true;
    this.#since = now;
    this.#error = null;
    this.#backoffMs = 0;
  }
}
