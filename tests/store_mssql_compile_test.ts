/**
 * SQL Server: no server can run on our machines, so the dialect is covered here by running the
 * real `SqlStore` and migrations on Kysely's MSSQL adapter and query compiler over a recording
 * driver (every statement is captured, canned rows come back), plus a real tedious connection
 * attempt to a closed loopback port. The checks: T-SQL syntax where it differs (TOP, table
 * hints, no LIMIT / FOR UPDATE), the 2 100-parameter limit per statement, and the DDL types.
 */
import {
  type CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  Kysely,
  MssqlAdapter,
  MssqlIntrospector,
  MssqlQueryCompiler,
  type QueryResult,
} from "kysely";
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { freePort } from "./helpers/net.ts";
import { parseConfig } from "../core/config/mod.ts";
import {
  createSqlStore,
  dueUnitsQuery,
  openStore,
  StoreUnavailableError,
} from "../core/store/mod.ts";
import type { Tables } from "../core/store/tables.ts";
import { migrationsFor } from "../migrations/mod.ts";
import type { NewMessage } from "../core/contracts/mod.ts";

type Responder = (query: CompiledQuery) => Partial<QueryResult<unknown>>;

/** Kysely's MSSQL dialect with a driver that records statements instead of sending them. */
function recordingKysely(respond: Responder = () => ({})) {
  const statements: CompiledQuery[] = [];
  const connection: DatabaseConnection = {
    executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
      statements.push(query);
      return Promise.resolve({ rows: [], ...respond(query) } as QueryResult<R>);
    },
    streamQuery() {
      throw new Error("not used");
    },
  };
  const driver: Driver = {
    init: () => Promise.resolve(),
    acquireConnection: () => Promise.resolve(connection),
    beginTransaction: () => {
      statements.push({ sql: "-- begin", parameters: [] } as unknown as CompiledQuery);
      return Promise.resolve();
    },
    commitTransaction: () => Promise.resolve(),
    rollbackTransaction: () => Promise.resolve(),
    releaseConnection: () => Promise.resolve(),
    destroy: () => Promise.resolve(),
  };
  const dialect: Dialect = {
    createAdapter: () => new MssqlAdapter(),
    createDriver: () => driver,
    createIntrospector: (db) => new MssqlIntrospector(db),
    createQueryCompiler: () => new MssqlQueryCompiler(),
  };
  return { db: new Kysely<Tables>({ dialect }), statements };
}

/** T-SQL has no LIMIT, no FOR UPDATE / SKIP LOCKED, and at most 2 100 parameters. */
function assertTsql(statements: CompiledQuery[]) {
  for (const s of statements) {
    assert(!/\blimit\b/i.test(s.sql), `LIMIT in T-SQL: ${s.sql.slice(0, 200)}`);
    assert(!/for update|skip locked/i.test(s.sql), `row locking clause: ${s.sql.slice(0, 200)}`);
    assert(!/\$\d|\?/.test(s.sql.replace(/'[^']*'/g, "")), `non-T-SQL placeholder: ${s.sql}`);
    assert(
      s.parameters.length <= 2_100,
      `${s.parameters.length} parameters: ${s.sql.slice(0, 80)}`,
    );
  }
}

const T0 = 1_750_000_000_000;

function message(i: number, recipients: number): NewMessage {
  return {
    id: `m${i}`,
    sender: "s@example.test",
    recipients: Array.from({ length: recipients }, (_, r) => `r${r}@d${r % 7}.test`),
    channel: "smtp",
    clientIp: null,
    receivedAt: T0,
    body: new Uint8Array([0, 255, i % 256]),
  };
}

Deno.test("mssql: the due-units query uses TOP and READPAST row locks", () => {
  const { db } = recordingKysely();
  const query = dueUnitsQuery(db, "mssql", T0, 200);
  assertEquals(
    query.sql,
    `select top (@1) "id" from "queue" with (updlock, readpast, rowlock) where "state" = @2 and "due_at" <= @3 order by "due_at"`,
  );
  assertEquals(query.parameters, [200, "queued", T0]);
});

Deno.test("mssql: the migrations compile to T-SQL types", async () => {
  const { db, statements } = recordingKysely();
  for (const migration of Object.values(migrationsFor("mssql"))) {
    await migration.up(db as unknown as Kysely<unknown>);
  }
  const ddl = statements.map((s) => s.sql).join(";\n");
  assertMatch(ddl, /create table "messages" \(.*"body" varbinary\(max\) not null/);
  assertMatch(ddl, /"id" bigint identity primary key/);
  assertMatch(ddl, /"reply" nvarchar\(max\)/);
  assertMatch(ddl, /create index "queue_state_due" on "queue" \("state", "due_at"\)/);
  assertMatch(ddl, /alter table "messages" add "unconfirmed_since" bigint/);
  assertMatch(
    ddl,
    /create index "messages_unconfirmed" on "messages" \("unconfirmed_since"\) where "unconfirmed_since" is not null/,
  );
  assertMatch(
    ddl,
    /create table "api_keys" \("name" varchar\(64\) primary key, "key_hash" varchar\(64\) not null unique, "created_at" bigint not null, "last_used_at" bigint\)/,
  );
  assert(!/bytea|longblob|bigserial|auto_increment|autoincrement/i.test(ddl), ddl);
});

Deno.test("mssql: every store call compiles to T-SQL within the parameter limit", async () => {
  const { db, statements } = recordingKysely((query) => {
    if (query.sql.startsWith('select top (@1) "id" from "queue"')) {
      return { rows: [{ id: "m1.0" }, { id: "m1.1" }] };
    }
    if (/^(update|delete)/.test(query.sql)) return { numAffectedRows: 1n };
    if (query.sql.includes('from "queue" inner join "messages"')) {
      return {
        rows: [{
          id: "m1.0",
          message_id: "m1",
          domain: "d0.test",
          attempts: "1",
          sender: "s@example.test",
          created_at: String(T0),
        }],
      };
    }
    return {};
  });
  const store = createSqlStore(db, "mssql", () => db.destroy());

  // 300 messages × 40 recipients: 12 000 recipient rows, 2 100 units in one group commit.
  await store.insertMessages(Array.from({ length: 300 }, (_, i) => message(i, 40)));
  const inserts = statements.filter((s) => s.sql.startsWith("insert into"));
  assert(inserts.length > 3, `only ${inserts.length} inserts`);
  assert(inserts.every((s) => /values \(@1, @2/.test(s.sql)), inserts[0].sql.slice(0, 120));
  const body = statements.find((s) => s.sql.startsWith('insert into "messages"'))!;
  assert(body.parameters.some((p) => p instanceof Uint8Array), "bodies bound as binary");

  const units = await store.leaseDue({
    owner: "n",
    token: "t",
    now: T0,
    leaseMs: 1_000,
    limit: 200,
  });
  assertEquals(units.map((u) => [u.unitId, u.attempts, u.createdAt]), [["m1.0", 1, T0]]);
  await store.settle([{
    unitId: "m1.0",
    messageId: "m1",
    domain: "d0.test",
    leaseToken: "t",
    at: T0,
    durationMs: 1,
    sourceIp: null,
    mxHost: null,
    remoteIp: null,
    tls: true,
    results: Array.from({ length: 400 }, (_, r) => ({
      address: `r${r}@d0.test`,
      outcome: "deferred" as const,
      code: 451,
      reply: "451 later",
    })),
    kind: "deferred",
    retryAt: T0 + 60_000,
    reason: "remote",
  }]);
  await store.releaseLeases("n", T0);
  await store.nextDueAt();
  await store.counts(T0);
  await store.messageStatus("m1");
  await store.listMessages({ limit: 50, before: "m9" });
  await store.recentAttempts({ limit: 50 });
  await store.listSuppressions(T0, 20);
  await store.suppressions(["a@x.test"], T0);
  await store.claimDsns({ token: "claim:x", limit: 10 });
  await store.releaseHeld("paused", T0);
  await store.deliveredSince(T0);
  await store.listShapingRules();
  await store.addApiKey({ name: "ci", keyHash: "ab".repeat(32), createdAt: T0, lastUsedAt: null });
  await store.apiKeyByHash("ab".repeat(32));
  await store.touchApiKey("ci", T0);
  await store.listApiKeys();
  await store.removeApiKey("ci");
  assertTsql(statements);
  assert(statements.some((s) => /^select top\(1\) "due_at" from "queue"/.test(s.sql)));
  assert(statements.some((s) => /^select top\(50\) "id", "sender"/.test(s.sql)));
});

Deno.test("mssql: the unconfirmed mark and its sweep compile to T-SQL", async () => {
  const { db, statements } = recordingKysely((query) => {
    if (query.sql.startsWith('select top(500) "id" from "messages"')) {
      return { rows: [{ id: "m1" }, { id: "m2" }, { id: "m3" }] };
    }
    if (/^(update|delete)/.test(query.sql)) return { numAffectedRows: 2n };
    if (query.sql.includes("exists")) return { rows: [{ id: "m2" }] }; // settled once: kept
    return {};
  });
  const store = createSqlStore(db, "mssql", () => db.destroy());
  await store.insertMessages([message(1, 2)], { unconfirmedSince: T0 });
  const insert = statements.find((s) => s.sql.startsWith('insert into "messages"'))!;
  assertMatch(insert.sql, /"body", "unconfirmed_since"\) values \(@1,/);
  await store.confirmMessages(["m1"]);
  const result = await store.sweepUnconfirmed(T0, 500);
  assertEquals(result, { found: 3, removed: 2, kept: 1 });
  assertTsql(statements);
  const sql = statements.map((s) => s.sql).join(";\n");
  assertMatch(sql, /update "messages" set "unconfirmed_since" = @1 where "id" in \(@2\)/);
  assertMatch(
    sql,
    /delete from "messages" where "id" in \(@1, @2\) and "unconfirmed_since" is not null/,
  );
  assertMatch(sql, /delete from "queue" where "message_id" in \(@1, @2\) and not exists/);
});

Deno.test("mssql: the outbox claim, marks and prune compile to T-SQL", async () => {
  const { db, statements } = recordingKysely((query) => {
    // One stale claim (as tedious returns a bigint id: a string); no new row.
    if (query.sql.includes('with (updlock, readpast, rowlock) where "state" = @2 and')) {
      return { rows: [{ id: "7", size: 120 }] };
    }
    return {};
  });
  const rows = createSqlStore(db, "mssql", () => db.destroy());
  const claims = await rows.claimOutbox({
    node: "n1",
    now: T0,
    limit: 10,
    staleBefore: T0 - 300_000,
  });
  assertEquals(claims, [{ id: 7, size: 120 }]);
  await rows.outboxPayloads([7]);
  await rows.finishOutbox({
    accepted: [{ id: 7, messageId: "Q1" }],
    failed: [{ id: 8, error: "bad" }],
    released: [9],
  }, T0);
  await rows.pruneOutbox(T0, 1_000);
  assertTsql(statements);
  const sql = statements.map((s) => s.sql).join(";\n");
  assertMatch(
    sql,
    /select top \(@1\) "id", datalength\("payload"\) as "size" from "outbox" with \(updlock, readpast, rowlock\) where "state" = @2 and "claimed_at" < @3 order by "id"/,
  );
  assertMatch(sql, /from "outbox" with \(updlock, readpast, rowlock\) where "state" = @2 order by/);
  assertMatch(sql, /update "outbox" set "state" = @1, "claimed_by" = @2, "claimed_at" = @3/);
  assertMatch(sql, /select top\(1000\) "id", "finished_at" from "outbox"/);
});

Deno.test("mssql: tedious loads and an unreachable server is a clear, fast error", async () => {
  const port = freePort();
  const config = parseConfig({
    data_dir: "/tmp",
    database: {
      driver: "mssql",
      connection: `sqlserver://sa:secret@127.0.0.1:${port}?database=mta&encrypt=disable`,
    },
  });
  const store = await openStore(config, "admin", { log: () => {} });
  try {
    const started = Date.now();
    const error = await store.nextDueAt().then(() => null, (e) => e);
    assert(error instanceof StoreUnavailableError, `expected a connection error, got ${error}`);
    assertMatch(error.message, /^Cannot reach the database \(mssql sa@127\.0\.0\.1:\d+\/mta\)/);
    assert(!error.message.includes("secret"));
    assert(Date.now() - started < 15_000);
  } finally {
    await store.close();
  }
});
