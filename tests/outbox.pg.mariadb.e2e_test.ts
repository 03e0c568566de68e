/**
 * The database outbox end to end, on every test database: a real server process, a real DNS
 * server and SMTP sink on loopback, and rows inserted with plain SQL as an application would.
 * First with `outbox.enabled` off (the default: the rows stay untouched while the node relays
 * SMTP mail), then on: raw and composed rows (and one left claimed by a node that died) reach
 * the sink with their envelopes and end `accepted` with the queue id; an invalid payload ends
 * `failed` with the reason.
 */
import { sql } from "kysely";
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { createTestDatabase, testDatabaseKinds } from "./helpers/databases.ts";
import { E2E_DOMAIN as DOMAIN, type E2eFixture, startE2eFixture } from "./helpers/e2e_fixture.ts";
import { sendWithSwaks, type ServerConfig, type ServerProcess } from "./helpers/server_process.ts";
import { waitUntil } from "./helpers/wait.ts";
import { ConfigError, parseConfig } from "../core/config/mod.ts";
import { parseInject } from "../core/inbound/inject_format.ts";
import { outboxMessage } from "../core/inbound/outbox.ts";
import type { SqlStore } from "../core/store/mod.ts";

interface OutboxRow {
  id: number;
  state: string;
  claimed_by: string | null;
  message_id: string | null;
  error: string | null;
}

/**
 * The documented INSERT: only the payload, every other column has its default. With
 * `claimedBy`: a row a node claimed long ago and never finished (it died mid-way).
 */
async function insertRow(store: SqlStore, payload: unknown, claimedBy?: string): Promise<number> {
  const json = JSON.stringify(payload);
  await (claimedBy === undefined
    ? sql`insert into outbox (payload) values (${json})`
    : sql`insert into outbox (payload, state, claimed_by, claimed_at)
          values (${json}, ${"claimed"}, ${claimedBy}, ${1})`).execute(store.db);
  const { rows } = await sql<{ id: number | string }>`select max(id) as id from outbox`
    .execute(store.db);
  return Number(rows[0].id);
}

async function outboxRows(store: SqlStore): Promise<Map<number, OutboxRow>> {
  const { rows } = await sql<OutboxRow>`
    select id, state, claimed_by, message_id, error from outbox order by id`.execute(store.db);
  return new Map(rows.map((r) => [Number(r.id), { ...r, id: Number(r.id) }]));
}

/**
 * Runs `fn` with a server of the fixture, then stops it and checks that it shut down cleanly
 * without a failed outbox poll; prints the server's output on failure; always stops it.
 */
async function withNode(
  e2e: E2eFixture,
  config: ServerConfig,
  fn: (server: ServerProcess) => Promise<void>,
): Promise<void> {
  const server = await e2e.start(config);
  try {
    await fn(server);
    assertEquals((await server.stop()).code, 0, "a clean shutdown");
    assert(!/ outbox: cannot/.test(server.logs()), "an outbox poll failed");
  } catch (error) {
    console.error(`--- fastmta server output (pid ${server.pid}) ---\n${server.logs()}`);
    throw error;
  } finally {
    await server.stop();
  }
}

Deno.test("outbox config: off by default; a bad value names its field", () => {
  assertEquals(parseConfig({}).outbox, {
    enabled: false,
    poll_interval: 1_000,
    batch: 100,
    claim_timeout: 300_000,
    keep: 7 * 86_400_000,
  });
  const cases: [unknown, RegExp][] = [
    [{ enabled: "yes" }, /outbox\.enabled: /],
    [{ poll_interval: "soon" }, /outbox\.poll_interval: Invalid duration "soon"/],
    [{ batch: 0 }, /outbox\.batch: /],
    [{ claim_timeout: "10s" }, /outbox\.claim_timeout: Expected at least 1 minute/],
    [{ keep: -1 }, /outbox\.keep: /],
    [{ interval: "1s" }, /outbox: .*"interval"/],
  ];
  for (const [outbox, pattern] of cases) {
    let error: unknown;
    try {
      parseConfig({ outbox });
    } catch (e) {
      error = e;
    }
    assert(error instanceof ConfigError, `expected a ConfigError for ${JSON.stringify(outbox)}`);
    assertMatch(error.message, pattern);
  }
});

Deno.test("outbox message: our Received header, channel outbox, the row id in meta", () => {
  const parsed = parseInject(
    new TextEncoder().encode(JSON.stringify({
      from: "a@origin.test",
      to: ["b@dest.test"],
      subject: "Hi",
      text: "Hello",
      pool: "p1",
    })),
    { maxSize: 1_000_000, maxRecipients: 10 },
  );
  assert(parsed.ok);
  const message = outboxMessage(parsed, { rowId: 42, hostname: "mx.test", maxSize: 1_000_000 });
  assertEquals(message.channel, "outbox");
  assertEquals(message.meta, { pool: "p1", outbox_id: 42 });
  assertEquals(message.recipients, ["b@dest.test"]);
  const text = new TextDecoder().decode(message.body);
  assertMatch(
    text,
    new RegExp(
      `^Received: from outbox \\(row 42\\)\r\n\tby mx\\.test \\(fastmta\\) with SQL id ${message.id};`,
    ),
  );
  assertMatch(text, new RegExp(`\r\nMessage-ID: <${message.id}@mx\\.test>\r\n`));
});

const CLAIM = { node: "c", limit: 100, staleBefore: 0 };

const RAW = [
  "From: <shop@origin.test>",
  `To: <alice@${DOMAIN}>`,
  "Subject: raw from the outbox",
  "",
  "Sent by an INSERT.",
  "",
].join("\r\n");

for (const kind of testDatabaseKinds()) {
  Deno.test(`outbox table [${kind}]: two claimers take disjoint rows; marks and pruning`, async () => {
    await using db = await createTestDatabase(kind);
    const [a, b] = [await db.open("accept", 3), await db.open("accept", 3)];
    try {
      await a.migrate();
      const ids: number[] = [];
      for (let i = 0; i < 40; i++) ids.push(await insertRow(a, { n: i }));
      const now = Date.now();
      const claim = (store: SqlStore, node: string) =>
        store.claimOutbox({ node, now, limit: 25, staleBefore: now - 60_000 });
      // node:sqlite is synchronous: two connections of one thread must not interleave their
      // transactions (the second would wait for the lock inside the call, blocking the thread
      // the first needs); SQLite's one writer does the claimers' job there.
      const [first, second] = kind === "sqlite3"
        ? [await claim(a, "a"), await claim(b, "b")]
        : await Promise.all([claim(a, "a"), claim(b, "b")]);
      const taken = [...first, ...second].map((c) => c.id).sort((x, y) => x - y);
      assertEquals(taken, ids, "every row claimed exactly once");
      for (const c of [...first, ...second]) {
        assertEquals(c.size, JSON.stringify({ n: ids.indexOf(c.id) }).length, "payload bytes");
      }
      assertEquals((await a.claimOutbox({ ...CLAIM, now })).length, 0);

      await a.finishOutbox({
        accepted: [{ id: ids[0], messageId: "Q1" }, { id: ids[1], messageId: "Q2" }],
        failed: [{ id: ids[2], error: 'invalid "to"' }],
        released: [ids[3]],
      }, now - 10_000);
      const states = await outboxRows(a);
      assertEquals(
        ids.slice(0, 4).map((id) => [states.get(id)!.state, states.get(id)!.message_id]),
        [["accepted", "Q1"], ["accepted", "Q2"], ["failed", null], ["new", null]],
      );
      assertEquals(states.get(ids[2])!.error, 'invalid "to"');
      // The released row is claimable again; so is a claim older than the timeout.
      const again = await a.claimOutbox({ ...CLAIM, now: now + 1, staleBefore: now + 1 });
      assertEquals(again.map((c) => c.id).sort((x, y) => x - y), ids.slice(3));

      assertEquals(await a.pruneOutbox(now - 20_000, 100), 0, "nothing finished that early");
      assertEquals(await a.pruneOutbox(now, 100), 2);
      assertEquals((await outboxRows(a)).has(ids[0]), false);
      assertEquals((await outboxRows(a)).get(ids[2])!.state, "failed", "failed rows stay");
    } finally {
      await a.close();
      await b.close();
    }
  });

  Deno.test(`outbox [${kind}]: rows inserted with SQL are accepted and delivered`, async () => {
    await using db = await createTestDatabase(kind);
    await using e2e = await startE2eFixture({ prefix: "fastmta-outbox-" });
    const { sink } = e2e;
    const config = (enabled: boolean): ServerConfig => ({
      ...e2e.nodeConfig(),
      database: { driver: kind, connection: db.connection, pool_size: 4 },
      outbox: { enabled, poll_interval: "100ms" },
    });
    const store = await db.open("admin", 2);
    try {
      let raw = 0, composed = 0, stale = 0;
      // Off (the default): serve creates the table, and nothing reads it.
      await withNode(e2e, config(false), async (server) => {
        raw = await insertRow(store, {
          from: "shop@origin.test",
          to: [`alice@${DOMAIN}`],
          raw_base64: btoa(RAW),
          metadata: { order: 1 },
        });
        composed = await insertRow(store, {
          from: "shop@origin.test",
          to: [`bob@${DOMAIN}`, `carol@${DOMAIN}`],
          subject: "composed from the outbox",
          text: "Hello from a row",
        });
        stale = await insertRow(store, { from: "", to: [`dave@${DOMAIN}`], raw: RAW }, "dead-node");
        // An SMTP message relayed end to end: the node ran long enough to have polled.
        const sent = await sendWithSwaks({
          server: server.smtpAddress,
          from: "sender@origin.test",
          to: [`smtp@${DOMAIN}`],
          data: RAW,
        });
        assert(sent.queueId, `not accepted: ${sent.stdout}${sent.stderr}`);
        await sink.waitForMessages(1, 30_000);
        const rows = await outboxRows(store);
        assertEquals([...rows.values()].map((r) => r.state), ["new", "new", "claimed"]);
        assert(!/ outbox: /.test(server.logs()), "the outbox was polled while off");
      });

      await withNode(e2e, config(true), async () => {
        // Inserted while the node runs: the poller keeps polling.
        const bad = await insertRow(store, { from: "shop@origin.test", to: [], text: "x" });
        const rows = await waitUntil(async () => {
          const rows = await outboxRows(store);
          return [...rows.values()].every((r) => r.state === "accepted" || r.state === "failed")
            ? rows
            : null;
        }, { timeoutMs: 30_000, message: "every row accepted or failed" });
        for (const id of [raw, composed, stale]) {
          const row = rows.get(id)!;
          assertEquals(row.state, "accepted", `row ${id}`);
          assertMatch(row.message_id ?? "", /^[0-9A-Z]{16}$/);
          assertEquals(row.claimed_by, "node-a");
        }
        assertEquals(rows.get(bad)!.state, "failed");
        assertEquals(rows.get(bad)!.message_id, null);
        assertMatch(rows.get(bad)!.error ?? "", /"to"/);

        const messages = await sink.waitForMessages(4, 30_000);
        const byRow = new Map(messages.map((m) => [
          Number(m.text().match(/^Received: from outbox \(row (\d+)\)/)?.[1]),
          m,
        ]));
        const rawMessage = byRow.get(raw)!;
        assertEquals(rawMessage.mailFrom, "shop@origin.test");
        assertEquals(rawMessage.rcptTo, [`alice@${DOMAIN}`]);
        assert(rawMessage.text().endsWith(RAW), "the raw message was changed");
        assertMatch(rawMessage.text(), new RegExp(`with SQL id ${rows.get(raw)!.message_id};`));
        const composedMessage = byRow.get(composed)!;
        assertEquals(composedMessage.mailFrom, "shop@origin.test");
        assertEquals(composedMessage.rcptTo.toSorted(), [`bob@${DOMAIN}`, `carol@${DOMAIN}`]);
        assertMatch(composedMessage.text(), /\r\nSubject: composed from the outbox\r\n/);
        assertMatch(composedMessage.text(), /\r\n\r\nHello from a row\r\n$/);
        assertEquals(byRow.get(stale)!.mailFrom, "", "the null sender");
        assertEquals(byRow.get(stale)!.rcptTo, [`dave@${DOMAIN}`]);

        const { rows: stored } = await sql<{ channel: string; meta: string }>`
          select channel, meta from messages where id = ${rows.get(raw)!.message_id}`
          .execute(store.db);
        assertEquals(stored[0].channel, "outbox");
        assertEquals(JSON.parse(stored[0].meta), { metadata: { order: 1 }, outbox_id: raw });
      });
    } finally {
      await store.close();
    }
  });
}
