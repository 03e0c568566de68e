/**
 * End to end on the server databases: the same real server process, DNS server and SMTP sink
 * as relay.e2e_test.ts (which runs on the embedded SQLite), with `database` pointing at a fresh
 * PostgreSQL or MariaDB database. The SMTP worker, the delivery worker and the main thread each
 * open their own pool on it.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import {
  adminQuery,
  createTestDatabase,
  type TestDatabase,
  type TestDatabaseKind,
  testDatabaseKinds,
} from "./helpers/databases.ts";
import { E2E_DOMAIN as DOMAIN, startE2eFixture } from "./helpers/e2e_fixture.ts";
import { adminApi, sendWithSwaks, type ServerProcess } from "./helpers/server_process.ts";
import type { SinkCommandContext, SmtpSink } from "./helpers/smtp_sink.ts";
import { waitUntil } from "./helpers/wait.ts";

interface MessageStatusJson {
  recipients: { state: string }[];
  attempts: { outcome: string; code: number | null }[];
}

interface Fixture extends AsyncDisposable {
  server: ServerProcess;
  db: TestDatabase;
  sink: SmtpSink;
  restart(): Promise<void>;
  status(id: string): Promise<MessageStatusJson | null>;
}

async function setup(
  kind: Exclude<TestDatabaseKind, "sqlite3">,
  reply?: (ctx: SinkCommandContext) => string | undefined | Promise<string | undefined>,
): Promise<Fixture> {
  const db = await createTestDatabase(kind);
  const e2e = await startE2eFixture({ prefix: "fastmta-e2e-db-", sinkReply: reply })
    .catch(async (error) => {
      await db.drop();
      throw error;
    });
  try {
    const config = e2e.nodeConfig();
    config.database = { driver: kind, connection: db.connection, pool_size: 4 };
    let server = await e2e.start(config);
    return {
      get server() {
        return server;
      },
      db,
      sink: e2e.sink,
      async restart() {
        server = await e2e.start(config);
      },
      async status(id) {
        const { status, body } = await adminApi<MessageStatusJson>(
          server,
          `/api/v1/messages/${id}`,
        );
        return status === 404 ? null : body;
      },
      async [Symbol.asyncDispose]() {
        await e2e[Symbol.asyncDispose]();
        await db.drop();
      },
    };
  } catch (error) {
    await e2e[Symbol.asyncDispose]();
    await db.drop();
    throw error;
  }
}

function message(subject: string): string {
  return [
    "From: <sender@origin.test>",
    `To: <rcpt@${DOMAIN}>`,
    `Subject: ${subject}`,
    "",
    "Hello from the database end-to-end test.",
    "",
  ].join("\r\n");
}

async function send(f: Fixture, subject: string): Promise<string> {
  const sent = await sendWithSwaks({
    server: f.server.smtpAddress,
    from: "sender@origin.test",
    to: [`rcpt@${DOMAIN}`],
    data: message(subject),
  });
  assert(sent.queueId, `not accepted: ${sent.stdout}${sent.stderr}`);
  return sent.queueId;
}

async function waitDelivered(f: Fixture, id: string): Promise<MessageStatusJson> {
  return await waitUntil(async () => {
    const status = await f.status(id);
    return status && status.recipients.every((r) => r.state === "delivered") ? status : null;
  }, { timeoutMs: 30_000, message: `message ${id} delivered` });
}

const KINDS = testDatabaseKinds().filter((k) => k !== "sqlite3") as Exclude<
  TestDatabaseKind,
  "sqlite3"
>[];

for (const kind of KINDS) {
  Deno.test(`e2e [${kind}]: relayed byte for byte; a 451 is retried, then delivered`, async () => {
    await using f = await setup(
      kind,
      (ctx) =>
        ctx.command === "DATA_END" && ctx.messageIndex === 1
          ? "451 4.7.1 Greylisted, try again"
          : undefined,
    );
    const first = await send(f, "first");
    const [received] = await f.sink.waitForMessages(1);
    assert(received.text().endsWith(message("first")), "body differs");
    assertEquals((await waitDelivered(f, first)).attempts.length, 1);

    const second = await send(f, "greylisted");
    const status = await waitDelivered(f, second);
    assertEquals(status.attempts.map((a) => [a.outcome, a.code]), [
      ["deferred", 451],
      ["delivered", 250],
    ]);
    const { body: health } = await adminApi<{ database: { ok: boolean } }>(f.server, "/healthz");
    assertEquals(health.database.ok, true);
  });

  Deno.test(`e2e [${kind}]: the database kills every connection; mail keeps flowing`, async () => {
    await using f = await setup(kind);
    const before = await send(f, "before");
    await waitDelivered(f, before);

    const killed = kind === "postgres"
      ? await adminQuery(
        "postgres",
        `select pg_terminate_backend(pid) from pg_stat_activity where datname = '${f.db.name}'`,
      )
      : await killMysql(f.db.name);
    assert(killed.length >= 2, `killed ${killed.length}`);

    // A client whose message met a dead connection got a 451 and would send again: so do we.
    const after = await waitUntil(async () => {
      const sent = await sendWithSwaks({
        server: f.server.smtpAddress,
        from: "sender@origin.test",
        to: [`rcpt@${DOMAIN}`],
        data: message("after"),
      });
      if (!sent.queueId) assertMatch(sent.stdout, /451/);
      return sent.queueId;
    }, { timeoutMs: 30_000, message: "accepted again" });
    await waitDelivered(f, after);
    assertEquals(f.sink.messages.length, 2);
  });

  Deno.test(`e2e [${kind}]: kill -9 with deliveries in flight; all delivered after restart`, async () => {
    let hold = true;
    const released = Promise.withResolvers<void>();
    const dataSeen = Promise.withResolvers<void>();
    await using f = await setup(kind, async (ctx) => {
      if (ctx.command === "DATA" && hold) {
        dataSeen.resolve();
        await released.promise; // not answered while the first server lives
        return "421 4.3.2 going away";
      }
      return undefined;
    });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await send(f, `n${i}`));
    await dataSeen.promise;
    await f.server.kill("SIGKILL");
    hold = false;
    released.resolve();
    await f.restart(); // releases the leases the killed run held
    for (const id of ids) await waitDelivered(f, id);
    const subjects = new Set(f.sink.messages.map((m) => m.text().match(/Subject: (n\d+)/)?.[1]));
    for (let i = 0; i < 5; i++) assert(subjects.has(`n${i}`), `n${i} missing at the sink`);
  });
}

async function killMysql(name: string): Promise<unknown[]> {
  const rows = await adminQuery(
    "mysql",
    `select id from information_schema.processlist where db = '${name}'`,
  );
  for (const row of rows) await adminQuery("mysql", `kill ${Number(row.id)}`).catch(() => {});
  return rows;
}
