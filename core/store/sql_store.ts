/**
 * The SQL store on Kysely: one implementation for every dialect; the few places where SQL
 * differs (row locking when leasing, `top` instead of `limit` on SQL Server, statement size
 * limits) branch on `dialect`. Every write that must be atomic is one transaction (retried when
 * the database picks it as a deadlock victim), and every hot-path write takes a batch (group
 * commit). Every call runs under a `ConnectionMonitor` (health.ts): bounded in time, and a lost
 * database is reported and retried with backoff.
 */
import { Buffer } from "node:buffer";
import { type CompiledQuery, type Insertable, type Kysely, sql, type Transaction } from "kysely";
import { Migrator } from "kysely/migration";
import { type Dialect, migrationsFor } from "../../migrations/mod.ts";
import type { LeasedUnit, NewMessage, UnitOutcome } from "../queue/contracts.ts";
import type { MessagesTable, QueueTable, RecipientsTable, Tables } from "./tables.ts";
import type {
  AttemptRow,
  LeaseRequest,
  MessageStatus,
  MessageSummary,
  MigrationState,
  QueueCounts,
  Store,
} from "./store.ts";
import { insertRowsQuery } from "./bulk_insert.ts";
import { caseUpdateQuery } from "./batch_update.ts";
import { ConnectionMonitor, type StoreHealthStatus } from "./health.ts";
import { domainOf } from "../address.ts";

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
  },
};

/** Units per statement when settling (SQL Server's 2 100 parameters bound the CASE lists). */
const SETTLE_UNITS = 100;
/** Recipients per UPDATE when settling. */
const SETTLE_RECIPIENTS = 200;

/** Locks units for settling and reads their lease tokens. */
function lockUnitsQuery(
  db: Kysely<Tables>,
  dialect: Dialect,
  ids: string[],
): CompiledQuery<{ id: string; lease_token: string | null }> {
  if (dialect === "mssql") {
    return sql<
      { id: string; lease_token: string | null }
    >`select "id", "lease_token" from "queue" with (updlock, rowlock) where "id" in (${
      sql.join(ids)
    })`.compile(db);
  }
  const select = db.selectFrom("queue").select(["id", "lease_token"]).where("id", "in", ids);
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

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Groups recipients by destination domain, preserving order; duplicates dropped. */
export function splitByDomain(recipients: string[]): Map<string, string[]> {
  const byDomain = new Map<string, string[]>();
  for (const address of recipients) {
    const domain = domainOf(address);
    let list = byDomain.get(domain);
    if (!list) byDomain.set(domain, list = []);
    if (!list.includes(address)) list.push(address);
  }
  return byDomain;
}

/** A `Store` on any Kysely dialect. */
export class SqlStore implements Store {
  readonly dialect: Dialect;
  readonly db: Kysely<Tables>;
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
    this.#onClose = onClose;
    this.#monitor = monitor;
  }

  health(): StoreHealthStatus {
    return this.#monitor.status();
  }

  maxBodyBytes(): Promise<number | null> {
    if (this.dialect !== "mysql") return Promise.resolve(null);
    return this.#monitor.run("read max_allowed_packet", async () => {
      const { rows } = await sql<{ max: string | number }>`select @@max_allowed_packet as max`
        .execute(this.db);
      // The whole blob is one value in one packet, with some room for the row around it.
      return Number(rows[0].max) - 64 * 1024;
    });
  }

  #migrator(): Migrator {
    const migrations = migrationsFor(this.dialect);
    return new Migrator({
      db: this.db,
      provider: { getMigrations: () => Promise.resolve(migrations) },
    });
  }

  migrate(): Promise<string[]> {
    return this.#monitor.run("migrate", async () => {
      const { error, results } = await this.#migrator().migrateToLatest();
      if (error) throw error;
      return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
    });
  }

  migrationStatus(): Promise<MigrationState[]> {
    return this.#monitor.run("read migrations", async () => {
      const infos = await this.#migrator().getMigrations();
      return infos.map((m) => ({ name: m.name, appliedAt: m.executedAt?.getTime() ?? null }));
    });
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

  insertMessages(messages: NewMessage[]): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    return this.#monitor.run("store messages", () => this.#insertMessages(messages));
  }

  async #insertMessages(messages: NewMessage[]): Promise<void> {
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
      });
      let n = 0;
      for (const [domain, addresses] of splitByDomain(m.recipients)) {
        const unitId = `${m.id}.${n++}`;
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
      for (const part of bodyChunks(messageRows, rowsPerInsert(this.dialect, 9))) {
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
    return this.#monitor.run("lease units", () => this.#leaseDue(request));
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
      ])
      .where("queue.id", "in", ids).orderBy("queue.due_at").execute();
    const recipients = await trx.selectFrom("recipients").select(["unit_id", "address"])
      .where("unit_id", "in", ids).where("state", "in", ["queued", "deferred"]).execute();
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
    }));
  }

  settle(outcomes: UnitOutcome[]): Promise<number> {
    if (outcomes.length === 0) return Promise.resolve(0);
    return this.#monitor.run("settle outcomes", () => this.#settle(outcomes));
  }

  async #settle(outcomes: UnitOutcome[]): Promise<number> {
    let lost = 0;
    await this.#transaction(async (trx) => {
      lost = 0;
      const attemptRows = outcomes.flatMap((o) =>
        o.results.map((r) => ({
          at: o.at,
          message_id: o.messageId,
          unit_id: o.unitId,
          recipient: r.address,
          domain: o.domain,
          outcome: r.outcome,
          code: r.code,
          reply: r.reply,
          source_ip: o.sourceIp,
          mx_host: o.mxHost,
          remote_ip: o.remoteIp,
          tls: o.tls ? 1 : 0,
          duration_ms: Math.round(o.durationMs),
          node_id: null,
        }))
      );
      for (const part of chunks(attemptRows, rowsPerInsert(this.dialect, 14))) {
        await trx.executeQuery(insertRowsQuery(this.dialect, "attempts", part, PG_TYPES.attempts));
      }
      // Lock the units (in id order, against deadlocks) and read who holds each lease now.
      const unitIds = [...new Set(outcomes.map((o) => o.unitId))].sort();
      const holders = new Map<string, string | null>();
      for (const part of chunks(unitIds, SETTLE_UNITS)) {
        const { rows } = await trx.executeQuery(lockUnitsQuery(trx, this.dialect, part));
        for (const row of rows) holders.set(row.id, row.lease_token);
      }
      const held: UnitOutcome[] = [];
      for (const o of outcomes) {
        if (holders.get(o.unitId) === o.leaseToken) {
          held.push(o);
          holders.delete(o.unitId); // one outcome per lease
        } else {
          // The lease expired and another worker took the unit: its outcome wins; ours is
          // only logged (the attempts rows above).
          lost++;
        }
      }
      if (held.length === 0) return;

      for (const part of chunks(held, SETTLE_UNITS)) {
        const rows = part.map((o) => {
          const deferred = o.results.some((r) => r.outcome === "deferred");
          const values: Record<string, unknown> = {
            state: deferred ? "queued" : "done",
            updated_at: o.at,
            last_reply: o.results[o.results.length - 1]?.reply ?? null,
          };
          if (deferred) values.due_at = o.retryAt ?? o.at;
          return { key: o.unitId, values };
        });
        await trx.executeQuery(caseUpdateQuery(this.dialect, "queue", "id", rows, {
          constants: { lease_owner: null, lease_token: null },
          types: { due_at: "bigint", updated_at: "bigint" },
        }));
      }

      // Recipients: find their row ids, then one UPDATE per chunk with each one's result.
      const results = new Map<string, { r: UnitOutcome["results"][number]; at: number }>();
      for (const o of held) {
        for (const r of o.results) results.set(`${o.unitId}\u0000${r.address}`, { r, at: o.at });
      }
      const recipientRows: { key: string | number; values: Record<string, unknown> }[] = [];
      for (const part of chunks(held.map((o) => o.unitId), SETTLE_UNITS)) {
        const rows = await trx.selectFrom("recipients").select(["id", "unit_id", "address"])
          .where("unit_id", "in", part).execute();
        for (const row of rows) {
          const result = results.get(`${row.unit_id}\u0000${row.address}`);
          if (!result) continue; // already finished in an earlier attempt
          recipientRows.push({
            key: row.id,
            values: {
              state: result.r.outcome,
              last_code: result.r.code,
              last_reply: result.r.reply,
              updated_at: result.at,
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

  releaseLeases(owner: string, now: number): Promise<number> {
    return this.#monitor.run("release leases", async () => {
      const result = await this.db.updateTable("queue")
        .set({ due_at: now, lease_owner: null, lease_token: null })
        .where("state", "=", "queued").where("lease_owner", "=", owner)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    });
  }

  nextDueAt(): Promise<number | null> {
    return this.#monitor.run("read the next due time", async () => {
      let select = this.db.selectFrom("queue").select("due_at")
        .where("state", "=", "queued").orderBy("due_at");
      select = this.dialect === "mssql" ? select.top(1) : select.limit(1);
      const row = await select.executeTakeFirst();
      return row ? Number(row.due_at) : null;
    });
  }

  readBody(messageId: string): Promise<Uint8Array | null> {
    return this.#monitor.run("read a message body", async () => {
      const row = await this.db.selectFrom("messages").select("body")
        .where("id", "=", messageId).executeTakeFirst();
      if (!row) return null;
      // Drivers return a Buffer (often a view into a larger pool): copy out exactly the bytes.
      const body = row.body;
      return new Uint8Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
    });
  }

  counts(now: number): Promise<QueueCounts> {
    return this.#monitor.run("count the queue", () => this.#counts(now));
  }

  async #counts(now: number): Promise<QueueCounts> {
    const byState = await this.db.selectFrom("recipients")
      .select((eb) => ["state", eb.fn.countAll<number>().as("n")])
      .groupBy("state").execute();
    const inFlight = await this.db.selectFrom("queue")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("state", "=", "queued").where("lease_owner", "is not", null)
      .where("due_at", ">", now).executeTakeFirst();
    const counts: QueueCounts = {
      queued: 0,
      deferred: 0,
      delivered: 0,
      failed: 0,
      in_flight_units: Number(inFlight?.n ?? 0),
    };
    for (const row of byState) counts[row.state] = Number(row.n);
    return counts;
  }

  messageStatus(messageId: string): Promise<MessageStatus | null> {
    return this.#monitor.run("read a message's status", () => this.#messageStatus(messageId));
  }

  async #messageStatus(messageId: string): Promise<MessageStatus | null> {
    const message = await this.db.selectFrom("messages")
      .select(["id", "sender", "created_at", "size", "channel"])
      .where("id", "=", messageId).executeTakeFirst();
    if (!message) return null;
    const recipients = await this.db.selectFrom("recipients")
      .select(["address", "state", "attempts", "last_code", "last_reply"])
      .where("message_id", "=", messageId).orderBy("id").execute();
    const attempts = await this.db.selectFrom("attempts")
      .select(["at", "recipient", "outcome", "code", "reply", "source_ip", "mx_host", "remote_ip"])
      .where("message_id", "=", messageId).orderBy("id").execute();
    return {
      id: message.id,
      sender: message.sender,
      createdAt: Number(message.created_at),
      size: Number(message.size),
      channel: message.channel,
      recipients: recipients.map((r) => ({ ...r, attempts: Number(r.attempts) })),
      attempts: attempts.map((a) => ({ ...a, at: Number(a.at) })),
    };
  }

  listMessages(options: { limit: number; before?: string }): Promise<MessageSummary[]> {
    return this.#monitor.run("list messages", () => this.#listMessages(options));
  }

  async #listMessages(options: { limit: number; before?: string }): Promise<MessageSummary[]> {
    let query = this.db.selectFrom("messages")
      .select(["id", "sender", "created_at", "size", "recipient_count"])
      .orderBy("id", "desc");
    query = this.dialect === "mssql" ? query.top(options.limit) : query.limit(options.limit);
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
        if (s.state === "failed") failed += Number(s.n);
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

  recentAttempts(options: { limit: number }): Promise<AttemptRow[]> {
    return this.#monitor.run("read the delivery log", () => this.#recentAttempts(options));
  }

  async #recentAttempts(options: { limit: number }): Promise<AttemptRow[]> {
    let query = this.db.selectFrom("attempts")
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
    query = this.dialect === "mssql" ? query.top(options.limit) : query.limit(options.limit);
    const rows = await query.execute();
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
