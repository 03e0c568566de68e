/**
 * The SQL store on Kysely: one implementation for every dialect; the few places where SQL
 * differs (row locking when leasing, `top` instead of `limit` on SQL Server, statement size
 * limits) branch on `dialect`. Every write that must be atomic is one transaction (retried when
 * the database picks it as a deadlock victim), and every hot-path write takes a batch (group
 * commit). Every statement runs under a `ConnectionMonitor` (health.ts, wired in by mod.ts):
 * bounded in time, and a lost database is reported and retried with backoff.
 */
import { Buffer } from "node:buffer";
import {
  type CompiledQuery,
  type Insertable,
  type Kysely,
  type SelectQueryBuilder,
  sql,
  type Transaction,
} from "kysely";
import { Migrator } from "kysely/migration";
import { type Dialect, migrationsFor } from "../../migrations/mod.ts";
import { type LeasedUnit, type NewMessage, type UnitOutcome, unitsOf } from "../queue/contracts.ts";
import {
  type AttemptsTable,
  type MessagesTable,
  OPEN_RECIPIENT_STATES,
  type QueueTable,
  type RecipientsTable,
  type Tables,
} from "./tables.ts";
import type {
  ApiKeyRecord,
  AttemptRow,
  DkimKeyRecord,
  DsnClaim,
  DsnWork,
  InsertOptions,
  LeaseRequest,
  MessageStatus,
  MessageSummary,
  MigrationState,
  QueueCounts,
  SettleOptions,
  ShapingRuleRow,
  SmtpUser,
  SmtpUserUpdate,
  Store,
  Suppression,
} from "./store.ts";
import { insertRowsQuery } from "./bulk_insert.ts";
import { caseUpdateQuery } from "./batch_update.ts";
import { ConnectionMonitor, type StoreHealthStatus } from "./health.ts";
import * as apiKeys from "./api_keys.ts";
import * as smtpUsers from "./smtp_users.ts";
import { SqlQuarantine } from "./quarantine.ts";

/** Rows per statement for simple lists (ids in IN lists, small inserts). */
const INSERT_CHUNK = 400;

/** Most rows in one multi-row INSERT. */
const INSERT_ROWS = 400;
/** Bytes of message bodies per INSERT, so a statement stays far below packet limits. */
const INSERT_BODY_BYTES = 4 * 1024 * 1024;

/** Body bytes per statement on MySQL (see insertMessages). */
const MYSQL_BODY_PIECE = 4 * 1024 * 1024;

/** Bound parameters one statement may carry (SQL Server allows 2 100). */
function maxParameters(dialect: Dialect): number {
  return dialect === "mssql" ? 2_000 : dialect === "sqlite3" ? 30_000 : 60_000;
}

/** Rows per INSERT for a table of `columns` columns on `dialect`. */
function rowsPerInsert(dialect: Dialect, columns: number): number {
  return Math.max(1, Math.min(INSERT_ROWS, Math.floor(maxParameters(dialect) / columns)));
}

/** Splits message rows so that each INSERT carries at most ~4 MB of bodies. */
function bodyChunks<T extends { body: Uint8Array }>(rows: T[], maxRows: number): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const row of rows) {
    if (
      current.length > 0 && (bytes + row.body.byteLength > INSERT_BODY_BYTES ||
        current.length >= maxRows)
    ) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(row);
    bytes += row.body.byteLength;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** A view of the bytes as a Buffer (no copy): mysql2 and tedious bind Buffers as binary. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
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

/** PostgreSQL column types for inserting through `unnest` (see bulk_insert.ts), by table. */
export const PG_TYPES: Record<string, Record<string, string>> = {
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

/** Units per statement when settling (SQL Server's 2 100 parameters bound the CASE lists). */
const SETTLE_UNITS = 100;
/** Recipients per UPDATE when settling. */
const SETTLE_RECIPIENTS = 150;

/** Locks units for settling and reads their lease tokens. */
/** A locked unit row as settle reads it. */
interface LockedUnit {
  id: string;
  lease_token: string | null;
  state: "queued" | "done";
  attempts: number;
  copy_seq: number;
}

function lockUnitsQuery(
  db: Kysely<Tables>,
  dialect: Dialect,
  ids: string[],
): CompiledQuery<LockedUnit> {
  if (dialect === "mssql") {
    return sql<
      LockedUnit
    >`select "id", "lease_token", "state", "attempts", "copy_seq" from "queue" with (updlock, rowlock) where "id" in (${
      sql.join(ids)
    })`.compile(db);
  }
  const select = db.selectFrom("queue")
    .select(["id", "lease_token", "state", "attempts", "copy_seq"]).where("id", "in", ids);
  return (dialect === "sqlite3" ? select : select.forUpdate()).compile();
}

/**
 * The query that picks due units to lease: the oldest `limit` queued units due by `now`, read
 * through the `queue_state_due` index and locked so that concurrent leasers (threads or nodes)
 * skip each other's rows. SQLite needs no row lock: its write transaction (BEGIN IMMEDIATE)
 * already serialises leasers. Exported so tests can EXPLAIN exactly this statement.
 */
export function dueUnitsQuery(
  db: Kysely<Tables>,
  dialect: Dialect,
  now: number,
  limit: number,
): CompiledQuery<{ id: string }> {
  if (dialect === "mssql") {
    // SQL Server has neither LIMIT nor FOR UPDATE: TOP plus table hints (READPAST skips rows
    // other transactions hold) do the same.
    return sql<
      { id: string }
    >`select top (${limit}) "id" from "queue" with (updlock, readpast, rowlock) where "state" = ${"queued"} and "due_at" <= ${now} order by "due_at"`
      .compile(db);
  }
  let select = db.selectFrom("queue").select("id")
    .where("state", "=", "queued").where("due_at", "<=", now)
    .orderBy("due_at").limit(limit);
  if (dialect === "postgres" || dialect === "mysql") select = select.forUpdate().skipLocked();
  return select.compile();
}

/**
 * Every recipient of the given units, by `recipients_unit`. Callers keep the open ones (see
 * `#loadUnits` for why the state is not a condition here). Exported so tests can EXPLAIN it.
 */
export function unitRecipientsQuery(
  db: Kysely<Tables>,
  unitIds: string[],
): CompiledQuery<{ unit_id: string; address: string; state: string }> {
  return db.selectFrom("recipients").select(["unit_id", "address", "state"])
    .where("unit_id", "in", unitIds).compile();
}

/**
 * Bytes from a driver as a plain Uint8Array of their own. Drivers may return a view into a
 * larger pooled buffer: then exactly the bytes are copied out; node:sqlite returns a buffer of
 * its own, kept as is (no copy of every body on the delivery path).
 */
function ownBytes(value: Uint8Array): Uint8Array {
  if (value.byteOffset === 0 && value.byteLength === value.buffer.byteLength) {
    return new Uint8Array(value.buffer, 0, value.byteLength);
  }
  return new Uint8Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export { splitByDomain } from "../queue/contracts.ts";

/** A `Store` on any Kysely dialect. */
export class SqlStore implements Store {
  readonly dialect: Dialect;
  readonly db: Kysely<Tables>;
  readonly quarantine: SqlQuarantine;
  #onClose: () => Promise<void>;
  #monitor: ConnectionMonitor;

  constructor(
    db: Kysely<Tables>,
    dialect: Dialect,
    onClose: () => Promise<void>,
    monitor: ConnectionMonitor = new ConnectionMonitor(dialect, () => {}),
  ) {
    this.db = db;
    this.dialect = dialect;
    this.quarantine = new SqlQuarantine(db);
    this.#onClose = onClose;
    this.#monitor = monitor;
  }

  health(): StoreHealthStatus {
    return this.#monitor.status();
  }

  async maxBodyBytes(): Promise<number | null> {
    if (this.dialect !== "mysql") return null;
    const { rows } = await sql<{ max: string | number }>`select @@max_allowed_packet as max`
      .execute(this.db);
    // The whole blob is one value in one packet, with some room for the row around it.
    return Number(rows[0].max) - 64 * 1024;
  }

  #migrator(): Migrator {
    const migrations = migrationsFor(this.dialect);
    return new Migrator({
      db: this.db,
      provider: { getMigrations: () => Promise.resolve(migrations) },
      // Migration numbers are handed out per issue, so e.g. 0002 can land after 0006 has run.
      allowUnorderedMigrations: true,
    });
  }

  async migrate(): Promise<string[]> {
    const { error, results } = await this.#migrator().migrateToLatest();
    if (error) throw error;
    return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
  }

  async migrationStatus(): Promise<MigrationState[]> {
    const infos = await this.#migrator().getMigrations();
    return infos.map((m) => ({ name: m.name, appliedAt: m.executedAt?.getTime() ?? null }));
  }

  /** One transaction, run again (up to 3 times) when the database broke a deadlock with it. */
  async #transaction<T>(fn: (trx: Transaction<Tables>) => Promise<T>): Promise<T> {
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
  #limit<DB, TB extends keyof DB, O>(
    query: SelectQueryBuilder<DB, TB, O>,
    limit: number,
  ): SelectQueryBuilder<DB, TB, O> {
    return this.dialect === "mssql" ? query.top(limit) : query.limit(limit);
  }

  insertMessages(messages: NewMessage[], options: InsertOptions = {}): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    return this.#insertMessages(messages, options.unconfirmedSince);
  }

  async #insertMessages(messages: NewMessage[], unconfirmedSince?: number): Promise<void> {
    const messageRows: Insertable<MessagesTable>[] = [];
    const unitRows: Insertable<QueueTable>[] = [];
    const recipientRows: Insertable<RecipientsTable>[] = [];
    for (const m of messages) {
      messageRows.push({
        id: m.id,
        sender: m.sender,
        created_at: m.receivedAt,
        size: m.body.byteLength,
        recipient_count: m.recipients.length,
        channel: m.channel,
        client_ip: m.clientIp,
        meta: m.meta ? JSON.stringify(m.meta) : null,
        body: asBuffer(m.body),
        // Only the broker queue marks; the embedded queue's statement stays as it was.
        ...(unconfirmedSince === undefined ? {} : { unconfirmed_since: unconfirmedSince }),
      });
      for (const { unitId, domain, recipients: addresses } of unitsOf(m)) {
        unitRows.push({
          id: unitId,
          message_id: m.id,
          domain,
          state: "queued" as const,
          due_at: m.receivedAt,
          attempts: 0,
          lease_owner: null,
          lease_token: null,
          created_at: m.receivedAt,
          updated_at: m.receivedAt,
          last_reply: null,
        });
        for (const address of addresses) {
          recipientRows.push({
            unit_id: unitId,
            message_id: m.id,
            address,
            state: "queued" as const,
            attempts: 0,
            last_code: null,
            last_reply: null,
            updated_at: m.receivedAt,
          });
        }
      }
    }
    // MySQL sends a statement as one packet (`max_allowed_packet`, 16 MB by default on
    // MariaDB) with binary values written as hex, twice their size: a large body goes in as a
    // first piece, and the rest is appended piece by piece in the same transaction.
    const tails: { id: string; body: Uint8Array }[] = [];
    if (this.dialect === "mysql") {
      for (const row of messageRows) {
        if (row.body.byteLength > MYSQL_BODY_PIECE) {
          tails.push({ id: row.id, body: row.body.subarray(MYSQL_BODY_PIECE) });
          row.body = row.body.subarray(0, MYSQL_BODY_PIECE);
        }
      }
    }
    await this.#transaction(async (trx) => {
      // Bodies can be large: statements are cut by body bytes as well as by row count.
      const columns = Object.keys(messageRows[0]).length;
      for (const part of bodyChunks(messageRows, rowsPerInsert(this.dialect, columns))) {
        await trx.executeQuery(insertRowsQuery(this.dialect, "messages", part));
      }
      for (const tail of tails) {
        for (let at = 0; at < tail.body.byteLength; at += MYSQL_BODY_PIECE) {
          const piece = tail.body.subarray(at, at + MYSQL_BODY_PIECE);
          await trx.updateTable("messages")
            .set({ body: sql<Uint8Array>`concat(body, ${piece})` })
            .where("id", "=", tail.id).execute();
        }
      }
      for (const part of chunks(unitRows, rowsPerInsert(this.dialect, 11))) {
        await trx.executeQuery(insertRowsQuery(this.dialect, "queue", part, PG_TYPES.queue));
      }
      for (const part of chunks(recipientRows, rowsPerInsert(this.dialect, 8))) {
        await trx.executeQuery(
          insertRowsQuery(this.dialect, "recipients", part, PG_TYPES.recipients),
        );
      }
    });
  }

  leaseDue(request: LeaseRequest): Promise<LeasedUnit[]> {
    return this.#leaseDue(request);
  }

  async #leaseDue(request: LeaseRequest): Promise<LeasedUnit[]> {
    const { owner, token, now, leaseMs, limit } = request;
    return await this.#transaction(async (trx) => {
      const due = await trx.executeQuery(dueUnitsQuery(trx, this.dialect, now, limit));
      const ids = due.rows.map((r) => r.id);
      if (ids.length === 0) return [];
      await trx.updateTable("queue")
        .set((eb) => ({
          lease_owner: owner,
          lease_token: token,
          due_at: now + leaseMs,
          attempts: eb("attempts", "+", 1),
          updated_at: now,
        }))
        .where("id", "in", ids).execute();
      return await this.#loadUnits(trx, ids, token);
    });
  }

  async #loadUnits(trx: Transaction<Tables>, ids: string[], token: string): Promise<LeasedUnit[]> {
    const units = await trx.selectFrom("queue")
      .innerJoin("messages", "messages.id", "queue.message_id")
      .select([
        "queue.id as id",
        "queue.message_id as message_id",
        "queue.domain as domain",
        "queue.attempts as attempts",
        "messages.sender as sender",
        "messages.created_at as created_at",
        "messages.meta as meta",
      ])
      .where("queue.id", "in", ids).orderBy("queue.due_at").execute();
    // The open states are filtered here, not in SQL: given `state IN (…)` SQLite's planner
    // reads through recipients_state (every open recipient of the whole queue) instead of
    // recipients_unit, which made each lease cost grow with the queue (measured: 200 units
    // leased from 100 000 queued took 19 ms in this query, 1 ms without the state condition).
    const recipients = (await trx.executeQuery(unitRecipientsQuery(trx, ids))).rows
      .filter((r) => OPEN_RECIPIENT_STATES.has(r.state));
    const byUnit = new Map<string, string[]>();
    for (const r of recipients) {
      let list = byUnit.get(r.unit_id);
      if (!list) byUnit.set(r.unit_id, list = []);
      list.push(r.address);
    }
    return units.map((u) => ({
      v: 1 as const,
      unitId: u.id,
      messageId: u.message_id,
      domain: u.domain,
      sender: u.sender,
      attempts: Number(u.attempts),
      createdAt: Number(u.created_at),
      leaseToken: token,
      recipients: byUnit.get(u.id) ?? [],
      meta: parseMeta(u.meta),
    }));
  }

  async settle(outcomes: UnitOutcome[], options: SettleOptions = {}): Promise<number> {
    const { claim, nodeId = null } = options;
    if (outcomes.length === 0) return 0;
    let lost = 0;
    await this.#transaction(async (trx) => {
      const attemptRows: Insertable<AttemptsTable>[] = [];
      for (const o of outcomes) {
        const common = {
          message_id: o.messageId,
          unit_id: o.unitId,
          domain: o.domain,
          node_id: o.nodeId ?? nodeId,
          site: o.site ?? null,
          pool: o.pool ?? null,
        };
        for (const t of o.tries ?? []) {
          attemptRows.push({
            ...common,
            at: t.at,
            recipient: "",
            outcome: "tried",
            code: t.code,
            reply: t.reply,
            source_ip: t.sourceIp,
            mx_host: t.mxHost,
            remote_ip: t.remoteIp,
            tls: 0,
            tls_version: null,
            tls_verified: 0,
            duration_ms: Math.round(t.durationMs),
            reason: null,
            category: null,
          });
        }
        for (const r of o.results) {
          attemptRows.push({
            ...common,
            at: o.at,
            recipient: r.address,
            outcome: r.outcome,
            code: r.code,
            reply: r.reply,
            source_ip: o.sourceIp,
            mx_host: o.mxHost,
            remote_ip: o.remoteIp,
            tls: o.tls ? 1 : 0,
            tls_version: o.tlsVersion ?? null,
            tls_verified: o.tlsVerified ? 1 : 0,
            duration_ms: Math.round(o.durationMs),
            reason: r.outcome === "deferred" ? o.reason ?? null : null,
            category: r.category ?? null,
          });
        }
      }
      for (const part of chunks(attemptRows, rowsPerInsert(this.dialect, 20))) {
        await trx.executeQuery(insertRowsQuery(this.dialect, "attempts", part, PG_TYPES.attempts));
      }
      // Lock the units (in id order, against deadlocks) and read who holds each lease now.
      const unitIds = [...new Set(outcomes.map((o) => o.unitId))].sort();
      const holders = new Map<
        string,
        { leaseToken: string | null; state: string; attempts: number; copy: number }
      >();
      for (const part of chunks(unitIds, SETTLE_UNITS)) {
        const { rows } = await trx.executeQuery(lockUnitsQuery(trx, this.dialect, part));
        for (const row of rows) {
          holders.set(row.id, {
            leaseToken: row.lease_token,
            state: row.state,
            attempts: Number(row.attempts),
            copy: Number(row.copy_seq),
          });
        }
      }
      const settled: UnitOutcome[] = [];
      // With a claim (the broker queue), `claimed` is the unit's attempts before this one.
      const finished: { o: UnitOutcome; claimed: number | undefined }[] = [];
      for (const o of outcomes) {
        const holder = holders.get(o.unitId);
        const copy = claim?.(o);
        const owns = holder !== undefined &&
          (copy === undefined
            ? holder.leaseToken === o.leaseToken
            : holder.state === "queued" && holder.copy === copy);
        if (!owns) {
          // The lease expired and another worker took the unit: its outcome wins; ours is
          // only logged (the attempts rows above).
          lost++;
          continue;
        }
        holders.delete(o.unitId); // one outcome per lease
        settled.push(o);
        // Held units (rare) keep their own statement: the attempt is given back.
        if (o.held) await holdUnit(trx, o, copy);
        else finished.push({ o, claimed: copy === undefined ? undefined : holder!.attempts });
      }
      if (settled.length === 0) return;

      for (const part of chunks(finished, SETTLE_UNITS)) {
        const rows = part.map(({ o, claimed }) => {
          const deferred = o.results.some((r) => r.outcome === "deferred");
          const values: Record<string, unknown> = {
            state: deferred ? "queued" : "done",
            updated_at: o.at,
            last_reply: o.results[o.results.length - 1]?.reply ?? null,
          };
          if (deferred) values.due_at = o.retryAt ?? o.at;
          if (claimed !== undefined) {
            // The broker queue counts the attempt here (the embedded queue did when leasing)
            // and moves the unit on to its next copy.
            values.attempts = claimed + 1;
            values.copy_seq = claim!(o) + 1;
          }
          return { key: o.unitId, values };
        });
        await trx.executeQuery(caseUpdateQuery(this.dialect, "queue", "id", rows, {
          constants: { lease_owner: null, lease_token: null, held: null },
          types: {
            due_at: "bigint",
            updated_at: "bigint",
            attempts: "integer",
            copy_seq: "integer",
          },
        }));
      }

      // Recipients: find their row ids, then one UPDATE per chunk with each one's result.
      const results = new Map<string, { r: UnitOutcome["results"][number]; at: number }>();
      for (const o of settled) {
        for (const r of o.results) results.set(`${o.unitId}\u0000${r.address}`, { r, at: o.at });
      }
      if (results.size === 0) return;
      const recipientRows: { key: string | number; values: Record<string, unknown> }[] = [];
      for (const part of chunks(settled.map((o) => o.unitId), SETTLE_UNITS)) {
        const rows = await trx.selectFrom("recipients").select(["id", "unit_id", "address"])
          .where("unit_id", "in", part).execute();
        for (const row of rows) {
          const result = results.get(`${row.unit_id}\u0000${row.address}`);
          if (!result) continue; // not part of this attempt
          const { r, at } = result;
          recipientRows.push({
            key: row.id,
            values: {
              state: r.outcome,
              last_code: r.code,
              last_reply: r.reply,
              updated_at: at,
              category: r.category ?? null,
              // A final failure owes the sender a DSN: due from this same transaction on.
              ...(r.outcome === "failed" || r.outcome === "suppressed" ? { dsn: "pending" } : {}),
            },
          });
        }
      }
      for (const part of chunks(recipientRows, SETTLE_RECIPIENTS)) {
        await trx.executeQuery(caseUpdateQuery(this.dialect, "recipients", "id", part, {
          increments: ["attempts"],
          types: { last_code: "integer", updated_at: "bigint" },
        }));
      }
    });
    return lost;
  }

  async releaseLeases(owner: string, now: number): Promise<number> {
    const result = await this.db.updateTable("queue")
      .set({ due_at: now, lease_owner: null, lease_token: null })
      .where("state", "=", "queued").where("lease_owner", "=", owner)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async nextDueAt(): Promise<number | null> {
    let select = this.db.selectFrom("queue").select("due_at")
      .where("state", "=", "queued").orderBy("due_at");
    select = this.dialect === "mssql" ? select.top(1) : select.limit(1);
    const row = await select.executeTakeFirst();
    return row ? Number(row.due_at) : null;
  }

  async readBodyHead(
    messageId: string,
    maxBytes: number,
  ): Promise<{ head: Uint8Array; size: number } | null> {
    const n = Math.max(1, Math.floor(maxBytes));
    // SUBSTRING counts bytes on binary columns in every dialect (SQLite: substr on a BLOB).
    const prefix = this.dialect === "sqlite3"
      ? sql<Uint8Array>`substr(${sql.ref("body")}, 1, ${sql.lit(n)})`
      : this.dialect === "postgres"
      ? sql<Uint8Array>`substring(${sql.ref("body")} from 1 for ${sql.lit(n)})`
      : sql<Uint8Array>`substring(${sql.ref("body")}, 1, ${sql.lit(n)})`;
    const row = await this.db.selectFrom("messages").select([prefix.as("head"), "size"])
      .where("id", "=", messageId).executeTakeFirst();
    if (!row) return null;
    return { head: ownBytes(row.head), size: Number(row.size) };
  }

  async readBody(messageId: string): Promise<Uint8Array | null> {
    const row = await this.db.selectFrom("messages").select("body")
      .where("id", "=", messageId).executeTakeFirst();
    if (!row) return null;
    return ownBytes(row.body);
  }

  async counts(now: number): Promise<QueueCounts> {
    const byState = await this.db.selectFrom("recipients")
      .select((eb) => ["state", eb.fn.countAll<number>().as("n")])
      .groupBy("state").execute();
    const inFlight = await this.db.selectFrom("queue")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("state", "=", "queued").where("lease_owner", "is not", null)
      .where("due_at", ">", now).executeTakeFirst();
    // Messages the broker has not confirmed (yet, or ever: see core/queue/rabbitmq.ts) are not
    // queued from anyone's point of view. Few rows, found through `messages_unconfirmed`.
    const unconfirmed = await this.db.selectFrom("messages")
      .innerJoin("recipients", "recipients.message_id", "messages.id")
      .select((eb) => ["recipients.state as state", eb.fn.countAll<number>().as("n")])
      .where("messages.unconfirmed_since", "is not", null)
      .groupBy("recipients.state").execute();
    const counts: QueueCounts = {
      queued: 0,
      deferred: 0,
      delivered: 0,
      failed: 0,
      suppressed: 0,
      in_flight_units: Number(inFlight?.n ?? 0),
    };
    for (const row of byState) counts[row.state] = Number(row.n);
    for (const row of unconfirmed) {
      counts[row.state] = Math.max(0, counts[row.state] - Number(row.n));
    }
    return counts;
  }

  async messageStatus(messageId: string): Promise<MessageStatus | null> {
    const message = await this.db.selectFrom("messages")
      .select(["id", "sender", "created_at", "size", "channel"])
      .where("id", "=", messageId).executeTakeFirst();
    if (!message) return null;
    const recipients = await this.db.selectFrom("recipients")
      .select(["address", "state", "attempts", "last_code", "last_reply"])
      .where("message_id", "=", messageId).orderBy("id").execute();
    const attempts = await this.db.selectFrom("attempts")
      .select([
        "at",
        "recipient",
        "outcome",
        "code",
        "reply",
        "source_ip",
        "mx_host",
        "remote_ip",
        "tls",
        "tls_version",
        "tls_verified",
        "duration_ms",
        "reason",
        "site",
        "pool",
        "node_id",
      ])
      .where("message_id", "=", messageId).orderBy("id").execute();
    return {
      id: message.id,
      sender: message.sender,
      createdAt: Number(message.created_at),
      size: Number(message.size),
      channel: message.channel,
      recipients: recipients.map((r) => ({ ...r, attempts: Number(r.attempts) })),
      attempts: attempts.map((a) => ({
        ...a,
        at: Number(a.at),
        tls: Number(a.tls),
        tls_verified: Number(a.tls_verified),
        duration_ms: Number(a.duration_ms),
      })),
    };
  }

  addSmtpUser(user: SmtpUser): Promise<void> {
    return smtpUsers.addSmtpUser(this.db, user);
  }

  getSmtpUser(username: string): Promise<SmtpUser | null> {
    return smtpUsers.getSmtpUser(this.db, username);
  }

  listSmtpUsers(): Promise<SmtpUser[]> {
    return smtpUsers.listSmtpUsers(this.db);
  }

  updateSmtpUser(username: string, update: SmtpUserUpdate): Promise<boolean> {
    return smtpUsers.updateSmtpUser(this.db, username, update);
  }

  removeSmtpUser(username: string): Promise<boolean> {
    return smtpUsers.removeSmtpUser(this.db, username);
  }

  addApiKey(key: ApiKeyRecord): Promise<void> {
    return apiKeys.addApiKey(this.db, key);
  }

  apiKeyByHash(keyHash: string): Promise<ApiKeyRecord | null> {
    return apiKeys.apiKeyByHash(this.db, keyHash);
  }

  touchApiKey(name: string, at: number): Promise<void> {
    return apiKeys.touchApiKey(this.db, name, at);
  }

  listApiKeys(): Promise<ApiKeyRecord[]> {
    return apiKeys.listApiKeys(this.db);
  }

  removeApiKey(name: string): Promise<boolean> {
    return apiKeys.removeApiKey(this.db, name);
  }

  async listShapingRules(): Promise<ShapingRuleRow[]> {
    const rows = await this.db.selectFrom("shaping_rules")
      .select(["pattern", "rule", "updated_at"]).orderBy("pattern").execute();
    return rows.map((r) => {
      let rule: unknown;
      try {
        rule = JSON.parse(r.rule);
      } catch {
        rule = r.rule; // Left to the policy to report as invalid.
      }
      return { pattern: r.pattern, rule, updatedAt: Number(r.updated_at) };
    });
  }

  async putShapingRule(pattern: string, rule: unknown, now: number): Promise<void> {
    // Delete + insert: portable across dialects, unlike each one's upsert syntax.
    await this.#transaction(async (trx) => {
      await trx.deleteFrom("shaping_rules").where("pattern", "=", pattern).execute();
      await trx.insertInto("shaping_rules")
        .values({ pattern, rule: JSON.stringify(rule), updated_at: now }).execute();
    });
  }

  async deleteShapingRule(pattern: string): Promise<boolean> {
    const result = await this.db.deleteFrom("shaping_rules").where("pattern", "=", pattern)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async releaseHeld(reason: string, now: number): Promise<number> {
    const result = await this.db.updateTable("queue")
      .set({ due_at: now, held: null })
      .where("state", "=", "queued").where("held", "=", reason)
      .where("lease_owner", "is", null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async deliveredSince(since: number): Promise<{ sourceIp: string; count: number }[]> {
    const rows = await this.db.selectFrom("attempts")
      .select((eb) => ["source_ip", eb.fn.count<number>("unit_id").distinct().as("n")])
      .where("at", ">=", since).where("outcome", "=", "delivered")
      .where("source_ip", "is not", null)
      .groupBy("source_ip").execute();
    return rows.map((r) => ({ sourceIp: r.source_ip!, count: Number(r.n) }));
  }

  async suppressions(addresses: string[], now: number): Promise<Suppression[]> {
    if (addresses.length === 0) return [];
    const wanted = [...new Set(addresses.map((a) => a.toLowerCase()))];
    const out: Suppression[] = [];
    for (const part of chunks(wanted, INSERT_CHUNK)) {
      const rows = await this.db.selectFrom("suppressions").selectAll()
        .where("address", "in", part).where("expires_at", ">", now).execute();
      out.push(...rows.map(suppressionOf));
    }
    return out;
  }

  async addSuppressions(entries: Suppression[]): Promise<void> {
    if (entries.length === 0) return;
    const byAddress = new Map(entries.map((e) => [e.address.toLowerCase(), e]));
    const rows = [...byAddress].map(([address, e]) => ({
      address,
      category: e.category,
      code: e.code,
      reason: e.reason,
      message_id: e.messageId,
      created_at: e.createdAt,
      expires_at: e.expiresAt,
    }));
    // Delete then insert: a portable upsert.
    await this.#transaction(async (trx) => {
      for (const part of chunks(rows, INSERT_CHUNK)) {
        await trx.deleteFrom("suppressions").where("address", "in", part.map((r) => r.address))
          .execute();
        await trx.insertInto("suppressions").values(part).execute();
      }
    });
  }

  async removeSuppression(address: string): Promise<boolean> {
    const result = await this.db.deleteFrom("suppressions")
      .where("address", "=", address.toLowerCase()).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async listSuppressions(now: number, limit: number): Promise<Suppression[]> {
    const query = this.db.selectFrom("suppressions").selectAll()
      .where("expires_at", ">", now).orderBy("created_at", "desc");
    const rows = await this.#limit(query, limit).execute();
    return rows.map(suppressionOf);
  }

  async claimDsns(claim: DsnClaim): Promise<DsnWork[]> {
    let select = this.db.selectFrom("recipients").select("id").where("dsn", "=", "pending");
    if (claim.messageIds) {
      if (claim.messageIds.length === 0) return [];
      select = select.where("message_id", "in", claim.messageIds);
    }
    const ids = (await this.#limit(select.orderBy("id"), claim.limit).execute())
      .map((r) => Number(r.id));
    if (ids.length === 0) return [];
    // `dsn = 'pending'` in the update makes the claim atomic per row without row locks.
    await this.db.updateTable("recipients").set({ dsn: claim.token })
      .where("id", "in", ids).where("dsn", "=", "pending").execute();
    const recipients = await this.db.selectFrom("recipients")
      .select([
        "id",
        "message_id",
        "address",
        "state",
        "last_code",
        "last_reply",
        "category",
        "updated_at",
      ])
      .where("dsn", "=", claim.token).orderBy("id").execute();
    if (recipients.length === 0) return [];
    const messageIds = [...new Set(recipients.map((r) => r.message_id))];
    const messages = await this.db.selectFrom("messages")
      .select(["id", "sender", "channel", "created_at", "meta"])
      .where("id", "in", messageIds).execute();
    // The last attempt that reached a server names the Remote-MTA.
    const attempts = await this.db.selectFrom("attempts")
      .select(["message_id", "recipient", "mx_host", "remote_ip"])
      .where("message_id", "in", messageIds).where("mx_host", "is not", null)
      .orderBy("id").execute();
    const lastHost = new Map<string, { mx_host: string | null; remote_ip: string | null }>();
    for (const a of attempts) lastHost.set(`${a.message_id}\u0000${a.recipient}`, a);
    const work = new Map<string, DsnWork>();
    for (const m of messages) {
      let meta: Record<string, unknown> | null = null;
      try {
        meta = m.meta ? JSON.parse(m.meta) : null;
      } catch {
        meta = null;
      }
      work.set(m.id, {
        messageId: m.id,
        sender: m.sender,
        channel: m.channel,
        createdAt: Number(m.created_at),
        meta,
        recipients: [],
      });
    }
    for (const r of recipients) {
      const host = lastHost.get(`${r.message_id}\u0000${r.address}`);
      work.get(r.message_id)?.recipients.push({
        id: Number(r.id),
        address: r.address,
        state: r.state,
        code: r.last_code === null ? null : Number(r.last_code),
        reply: r.last_reply,
        category: r.category,
        updatedAt: Number(r.updated_at),
        mxHost: host?.mx_host ?? null,
        remoteIp: host?.remote_ip ?? null,
      });
    }
    return [...work.values()].filter((w) => w.recipients.length > 0);
  }

  async finishDsns(recipientIds: number[], state: "sent" | "skipped"): Promise<void> {
    for (const part of chunks(recipientIds, INSERT_CHUNK)) {
      await this.db.updateTable("recipients").set({ dsn: state }).where("id", "in", part)
        .execute();
    }
  }

  async releaseDsnClaims(tokenPrefix: string): Promise<number> {
    // LIKE narrows the search; startsWith makes it exact ("_" and "%" are LIKE wildcards).
    const rows = await this.db.selectFrom("recipients").select(["id", "dsn"])
      .where("dsn", "like", `${tokenPrefix}%`).execute();
    const ids = rows.filter((r) => r.dsn?.startsWith(tokenPrefix)).map((r) => Number(r.id));
    for (const part of chunks(ids, INSERT_CHUNK)) {
      await this.db.updateTable("recipients").set({ dsn: "pending" }).where("id", "in", part)
        .execute();
    }
    return ids.length;
  }

  async dkimKeys(): Promise<DkimKeyRecord[]> {
    const rows = await this.db.selectFrom("dkim_keys").selectAll()
      .orderBy("domain").orderBy("selector").execute();
    return rows.map((r) => ({
      domain: r.domain,
      selector: r.selector,
      algorithm: r.algorithm,
      privateKey: r.private_key,
      publicKey: r.public_key,
      createdAt: Number(r.created_at),
    }));
  }

  async addDkimKey(key: DkimKeyRecord): Promise<void> {
    await this.db.insertInto("dkim_keys").values({
      domain: key.domain,
      selector: key.selector,
      algorithm: key.algorithm,
      private_key: key.privateKey,
      public_key: key.publicKey,
      created_at: key.createdAt,
    }).execute();
  }

  async removeDkimKey(domain: string, selector: string): Promise<boolean> {
    const result = await this.db.deleteFrom("dkim_keys")
      .where("domain", "=", domain).where("selector", "=", selector).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async listMessages(options: { limit: number; before?: string }): Promise<MessageSummary[]> {
    let query = this.db.selectFrom("messages")
      .select(["id", "sender", "created_at", "size", "recipient_count"])
      .where("unconfirmed_since", "is", null) // not accepted (yet): see core/queue/rabbitmq.ts
      .orderBy("id", "desc");
    query = this.#limit(query, options.limit);
    if (options.before) query = query.where("id", "<", options.before);
    const messages = await query.execute();
    if (messages.length === 0) return [];
    const states = await this.db.selectFrom("recipients")
      .select((eb) => ["message_id", "state", eb.fn.countAll<number>().as("n")])
      .where("message_id", "in", messages.map((m) => m.id))
      .groupBy(["message_id", "state"]).execute();
    return messages.map((m) => {
      let pending = 0;
      let failed = 0;
      for (const s of states) {
        if (s.message_id !== m.id) continue;
        if (s.state === "queued" || s.state === "deferred") pending += Number(s.n);
        if (s.state === "failed" || s.state === "suppressed") failed += Number(s.n);
      }
      return {
        id: m.id,
        sender: m.sender,
        createdAt: Number(m.created_at),
        size: Number(m.size),
        recipients: Number(m.recipient_count),
        pending,
        failed,
      };
    });
  }

  async recentAttempts(options: { limit: number }): Promise<AttemptRow[]> {
    const query = this.db.selectFrom("attempts")
      .select([
        "at",
        "message_id",
        "recipient",
        "outcome",
        "code",
        "reply",
        "source_ip",
        "mx_host",
        "duration_ms",
      ])
      .orderBy("id", "desc");
    const rows = await this.#limit(query, options.limit).execute();
    return rows.map((r) => ({
      at: Number(r.at),
      messageId: r.message_id,
      recipient: r.recipient,
      outcome: r.outcome,
      code: r.code === null ? null : Number(r.code),
      reply: r.reply,
      sourceIp: r.source_ip,
      mxHost: r.mx_host,
      durationMs: Number(r.duration_ms),
    }));
  }

  async close(): Promise<void> {
    await this.#onClose();
  }
}

/**
 * The unit row an outcome may settle: the one leased with its token, or (broker queue) the one
 * still at copy number `copy`, which then moves on by one.
 */
function claimUnit(
  trx: Transaction<Tables>,
  o: UnitOutcome,
  copy: number | undefined,
) {
  const update = trx.updateTable("queue").where("id", "=", o.unitId);
  if (copy === undefined) return update.where("lease_token", "=", o.leaseToken);
  return update.where("copy_seq", "=", copy).where("state", "=", "queued")
    .set({ copy_seq: copy + 1 });
}

/** Settles a held unit: due again at `held.until`, and the attempt it was leased with given back. */
async function holdUnit(
  trx: Transaction<Tables>,
  o: UnitOutcome,
  copy: number | undefined,
): Promise<boolean> {
  const held = o.held!;
  // A held unit may still carry final results (recipients screened out before the hold, e.g.
  // suppressed): the caller records them like any other.
  const result = await claimUnit(trx, o, copy)
    .set((eb) => ({
      due_at: held.until,
      // Leasing counted an attempt in the embedded queue; the broker queue counts at settle.
      attempts: copy === undefined ? eb("attempts", "-", 1) : eb.ref("attempts"),
      lease_owner: null,
      lease_token: null,
      updated_at: o.at,
      held: held.reason,
      last_reply: held.why,
    }))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

function parseMeta(text: string | null): Record<string, unknown> | null {
  if (text === null || text === "") return null;
  try {
    const value = JSON.parse(text);
    return value !== null && typeof value === "object" ? value : null;
  } catch {
    return null;
  }
}

function suppressionOf(row: {
  address: string;
  category: string;
  code: number | null;
  reason: string | null;
  message_id: string | null;
  created_at: number;
  expires_at: number;
}): Suppression {
  return {
    address: row.address,
    category: row.category,
    code: row.code === null ? null : Number(row.code),
    reason: row.reason,
    messageId: row.message_id,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
  };
}
