/**
 * What every repository module of the store shares: the Kysely handle with its dialect, the
 * deadlock-retrying transaction, and small helpers for batching and reading driver values.
 * Private to core/store/.
 */
import { Buffer } from "node:buffer";
import {
  type Kysely,
  type RawBuilder,
  type SelectQueryBuilder,
  sql,
  type SqlBool,
  type Transaction,
} from "kysely";
import type { Dialect } from "../../migrations/mod.ts";
import type { Tables } from "./tables.ts";
import { jsonList } from "./compiled_once.ts";
import type { SegmentWriter } from "../spool/mod.ts";
import type { FileSystemFence } from "./fs_fence.ts";

/** Rows per statement for simple lists (ids in IN lists, small inserts). */
export const LIST_CHUNK = 400;

/** Where a store's spooled bodies are, and the writer of new ones (null: they go to SQL). */
export interface BodySpool {
  dir: string;
  writer: SegmentWriter | null;
}

/** The database handle every repository function takes. */
export class SqlContext {
  readonly db: Kysely<Tables>;
  readonly dialect: Dialect;
  /**
   * The body spool's folder (SQLite files only: spooled bodies are read from it) and, when
   * `database.body_spool` is "segments", the writer new bodies go to (core/spool/).
   */
  readonly spool: BodySpool | null;
  /** Checked after each accepted batch commits (SQLite accept role; see fs_fence.ts). */
  readonly fence: FileSystemFence | null;

  constructor(
    db: Kysely<Tables>,
    dialect: Dialect,
    spool: BodySpool | null = null,
    fence: FileSystemFence | null = null,
  ) {
    this.db = db;
    this.dialect = dialect;
    this.spool = spool;
    this.fence = fence;
  }

  /** One transaction, run again (up to 3 times) when the database broke a deadlock with it. */
  async transaction<T>(fn: (trx: Transaction<Tables>) => Promise<T>): Promise<T> {
    for (let attempt = 1;; attempt++) {
      try {
        return await this.db.transaction().execute(fn);
      } catch (error) {
        if (attempt >= 3 || !isDeadlock(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * attempt));
      }
    }
  }

  /** LIMIT, or TOP on SQL Server. */
  limit<DB, TB extends keyof DB, O>(
    query: SelectQueryBuilder<DB, TB, O>,
    limit: number,
  ): SelectQueryBuilder<DB, TB, O> {
    return this.dialect === "mssql" ? query.top(limit) : query.limit(limit);
  }
}

/** True when the database rolled the transaction back to break a deadlock (safe to retry). */
function isDeadlock(error: unknown): boolean {
  const { code, errno, number } = (error ?? {}) as {
    code?: unknown;
    errno?: unknown;
    number?: unknown;
  };
  return code === "40P01" || code === "40001" || code === "ER_LOCK_DEADLOCK" || errno === 1213 ||
    number === 1205;
}

/**
 * `column IN (…values)`, on PostgreSQL `column = any($1)` with the values as one array, on SQLite
 * `column in (select value from json_each(?))` with their JSON text: one statement text whatever
 * their number, so a hot statement is compiled once (compiled_once.ts) and prepared once per
 * connection (pg_prepared.ts, statement_cache.ts) instead of again for every list length.
 */
export function inList(
  dialect: Dialect,
  column: string,
  values: readonly unknown[],
): RawBuilder<SqlBool> {
  if (dialect === "postgres") return sql<SqlBool>`${sql.ref(column)} = any(${sql.val(values)})`;
  if (dialect === "sqlite3") {
    return sql<SqlBool>`${sql.ref(column)} in (select "value" from json_each(${
      sql.val(jsonList(values))
    }))`;
  }
  return sql<SqlBool>`${sql.ref(column)} in (${sql.join(values)})`;
}

/** `items` in slices of at most `size`. */
export function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Bound parameters one statement may carry (SQL Server allows 2 100). */
function maxParameters(dialect: Dialect): number {
  return dialect === "mssql" ? 2_000 : dialect === "sqlite3" ? 30_000 : 60_000;
}

/** Most rows in one multi-row INSERT. */
const INSERT_ROWS = 400;

/** Rows per INSERT for a table of `columns` columns on `dialect`. */
export function rowsPerInsert(dialect: Dialect, columns: number): number {
  return Math.max(1, Math.min(INSERT_ROWS, Math.floor(maxParameters(dialect) / columns)));
}

/** A view of the bytes as a Buffer (no copy): mysql2 and tedious bind Buffers as binary. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Bytes from a driver as a plain Uint8Array of their own. Drivers may return a view into a
 * larger pooled buffer: then exactly the bytes are copied out; node:sqlite returns a buffer of
 * its own, kept as is (no copy of every body on the delivery path).
 */
export function ownBytes(value: Uint8Array): Uint8Array {
  if (value.byteOffset === 0 && value.byteLength === value.buffer.byteLength) {
    return new Uint8Array(value.buffer, 0, value.byteLength);
  }
  return new Uint8Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
}

/** A number column that may be null (drivers return BIGINT as string or number). */
export function numberOrNull(value: number | string | null): number | null {
  return value === null ? null : Number(value);
}

/** PostgreSQL column types for inserting through `unnest` (see bulk_insert.ts), by table. */
export const PG_TYPES: Record<string, Record<string, string>> = {
  messages: {
    id: "varchar",
    sender: "varchar",
    created_at: "bigint",
    size: "integer",
    recipient_count: "integer",
    channel: "varchar",
    client_ip: "varchar",
    meta: "text",
    pool: "varchar",
    tag: "varchar",
    api_key: "varchar",
    body: "bytea",
    body_segment: "varchar",
    body_offset: "bigint",
    unconfirmed_since: "bigint",
  },
  queue: {
    id: "varchar",
    message_id: "varchar",
    domain: "varchar",
    state: "varchar",
    due_at: "bigint",
    attempts: "integer",
    lease_owner: "varchar",
    lease_token: "varchar",
    created_at: "bigint",
    updated_at: "bigint",
    last_reply: "text",
    held: "varchar",
  },
  recipients: {
    unit_id: "varchar",
    message_id: "varchar",
    address: "varchar",
    state: "varchar",
    attempts: "integer",
    last_code: "integer",
    last_reply: "text",
    updated_at: "bigint",
  },
  attempts: {
    at: "bigint",
    message_id: "varchar",
    unit_id: "varchar",
    recipient: "varchar",
    domain: "varchar",
    outcome: "varchar",
    code: "integer",
    reply: "text",
    source_ip: "varchar",
    mx_host: "varchar",
    remote_ip: "varchar",
    tls: "integer",
    duration_ms: "integer",
    node_id: "varchar",
    reason: "varchar",
    site: "varchar",
    pool: "varchar",
    tls_version: "varchar",
    tls_verified: "integer",
    category: "varchar",
  },
};
