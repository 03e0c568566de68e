/**
 * Intake limits at the door of every channel (issue 12, docs/intake_limits.md): a message whose
 * `metadata` nests 10 000 levels deep (60 KB of JSON; it used to be accepted and then
 * stall every scheduler pass that leased it) is refused before anything is stored, each channel
 * in its own way: the REST API with 400 naming the field, `fastmta send --json` with exit 2, the
 * inject queue (a real RabbitMQ vhost) by dead-lettering it with the reason, the outbox by
 * marking the row `failed` with the reason. A good message sent alongside it goes through. Then
 * the SMTP header-field, header-line and recipient limits, in one session that stays usable.
 */
import { Buffer } from "node:buffer";
import amqp from "amqplib";
import { sql } from "kysely";
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { testVhost } from "./helpers/rabbitmq.ts";
import { runCli } from "./helpers/server_process.ts";
import { startSmtpFixture, testMessage } from "./helpers/smtp_fixture.ts";
import { RawSmtp } from "./helpers/smtp_raw.ts";
import { waitUntil } from "./helpers/wait.ts";
import type { Acceptor } from "../core/accept/mod.ts";
import { AdminAuth } from "../core/auth/admin.ts";
import { addApiKey } from "../core/auth/api_keys.ts";
import { parseConfig } from "../core/config/mod.ts";
import { startInjectConsumer } from "../core/inbound/inject.ts";
import { startOutboxPoller } from "../core/inbound/outbox.ts";
import type { NewMessage } from "../core/contracts/mod.ts";
import { openStore } from "../core/store/mod.ts";
import { adminApp } from "../routes/mod.ts";

const DEPTH = 10_000;
const REFUSED = /invalid "metadata": nested deeper than 32 levels/;
const RAW = "From: <a@origin.test>\r\nTo: <b@dest.test>\r\nSubject: fine\r\n\r\nHello.\r\n";

/** An inject v1 document whose metadata nests `depth` objects deep, as text. */
function nestedDocument(depth = DEPTH): string {
  const metadata = '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
  return `{"from":"a@origin.test","to":["b@dest.test"],"raw":${JSON.stringify(RAW)},` +
    `"metadata":${metadata}}`;
}

const GOOD = JSON.stringify({
  from: "a@origin.test",
  to: ["b@dest.test"],
  raw: RAW,
  metadata: { tenant: "t1", tags: ["a", "b"] },
});

/** An acceptor that keeps what it was given. */
function collectingAcceptor(): { acceptor: Acceptor; submitted: NewMessage[] } {
  const submitted: NewMessage[] = [];
  const acceptor = {
    submit: (message: NewMessage) => {
      submitted.push(message);
      return Promise.resolve(message.id);
    },
  } as unknown as Acceptor;
  return { acceptor, submitted };
}

Deno.test("intake REST: nested metadata is refused with 400 naming the field", async () => {
  await using dir = tempDir("fastmta-intake-");
  const config = parseConfig({ data_dir: dir.path, smtp: { hostname: "mx.test" } });
  const store = await openStore(config, "admin");
  try {
    await store.migrate();
    const key = await addApiKey(store, "ci");
    const { acceptor, submitted } = collectingAcceptor();
    const app = adminApp({
      config,
      store,
      auth: new AdminAuth(store),
      startedAt: Date.now(),
      accept: acceptor,
    });
    const post = (body: string) =>
      app.request("/api/v1/messages", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
        body,
      });
    const nested = await post(nestedDocument());
    assertEquals(nested.status, 400);
    assertMatch((await nested.json()).detail, REFUSED);

    const cases: [Record<string, unknown>, RegExp][] = [
      [{ metadata: { list: Array(1001).fill(0) } }, /"metadata": more than 1000 keys/],
      [{ metadata: { a: { note: "x".repeat(5000) } } }, /"metadata\.a\.note": string longer/],
      [
        {
          metadata: Object.fromEntries(Array.from({ length: 9 }, (_, i) => [i, "y".repeat(2000)])),
        },
        /"metadata": \d+ bytes as JSON \(at most 16384\)/,
      ],
      [{ raw: `X-Long: ${"z".repeat(999)}\r\n${RAW}` }, /"raw": header line longer than 998/],
      [{ to: [[[["deep"]]]] }, /invalid recipient "\(array\)"/],
      [
        { raw: undefined, subject: "s", text: "t", headers: { "X-Long": "w".repeat(1000) } },
        /"headers\.X-Long": header line longer than 998 octets/,
      ],
    ];
    for (const [change, expected] of cases) {
      const response = await post(JSON.stringify({ ...JSON.parse(GOOD), ...change }));
      const body = await response.json();
      assertEquals(response.status, 400, JSON.stringify(change).slice(0, 80));
      assertMatch(body.detail, expected);
    }
    assertEquals(submitted.length, 0, "nothing refused reached accept");
    assertEquals((await post(GOOD)).status, 202);
    assertEquals(submitted.length, 1);
    assertEquals(submitted[0].meta?.metadata, { tenant: "t1", tags: ["a", "b"] });
  } finally {
    await store.close();
  }
});

Deno.test("intake send --json: nested metadata exits 2 naming the problem, nothing stored", async () => {
  await using dir = tempDir("fastmta-intake-");
  const configPath = `${dir.path}/config.json`;
  await Deno.writeTextFile(
    configPath,
    JSON.stringify({ data_dir: dir.path, smtp: { hostname: "mx.test" } }),
  );
  const refused = await runCli(["send", "--config", configPath, "--json"], {
    stdin: nestedDocument(),
  });
  assertEquals(refused.code, 2, refused.stderr);
  assertMatch(refused.stderr, REFUSED);
  assertEquals(refused.stdout, "");
  const long = await runCli([
    "send",
    "--config",
    configPath,
    "--from",
    "a@o.test",
    "--to",
    "b@d.test",
  ], {
    stdin: `Subject: ${"l".repeat(1000)}\n\nbody\n`,
  });
  assertEquals(long.code, 2, long.stderr);
  assertMatch(long.stderr, /header line longer than 998 octets \(intake\.max_header_line_length\)/);

  const store = await openStore(parseConfig({ data_dir: dir.path }), "admin");
  try {
    const stored = await store.db.selectFrom("messages").select((eb) => eb.fn.countAll().as("n"))
      .executeTakeFirstOrThrow();
    assertEquals(Number(stored.n), 0);
  } finally {
    await store.close();
  }
  const good = await runCli(["send", "--config", configPath, "--json"], { stdin: GOOD });
  assertEquals(good.code, 0, good.stderr);
});

Deno.test("intake inject queue: nested metadata is dead-lettered with the reason", async () => {
  await using vhost = await testVhost();
  await using dir = tempDir("fastmta-intake-");
  const config = parseConfig({
    data_dir: dir.path,
    rabbitmq: vhost.config,
    smtp: { hostname: "mx.test" },
  });
  const { acceptor, submitted } = collectingAcceptor();
  const consumer = await startInjectConsumer(config, acceptor, () => {});
  const conn = await amqp.connect(vhost.url);
  try {
    const ch = await conn.createConfirmChannel();
    for (const body of [nestedDocument(), GOOD]) {
      ch.sendToQueue("fastmta.inject", Buffer.from(body), { persistent: true });
    }
    await ch.waitForConfirms();
    let reason = "";
    await waitUntil(async () => {
      const msg = await ch.get("fastmta.inject.dead", { noAck: true });
      if (msg) reason = String(msg.properties.headers?.["x-fastmta-error"]);
      return reason !== "" && submitted.length === 1;
    }, { message: "the nested message dead-lettered and the good one accepted" });
    assertMatch(reason, REFUSED);
    assertEquals(submitted[0].recipients, ["b@dest.test"]);
    await ch.close();
  } finally {
    await conn.close();
    await consumer.close();
  }
});

Deno.test("intake outbox: nested metadata ends the row failed with the reason", async () => {
  await using dir = tempDir("fastmta-intake-");
  const config = parseConfig({
    data_dir: dir.path,
    smtp: { hostname: "mx.test" },
    outbox: { enabled: true, poll_interval: "100ms" },
  });
  const store = await openStore(config, "admin");
  let poller: Awaited<ReturnType<typeof startOutboxPoller>> | null = null;
  try {
    await store.migrate();
    await sql`insert into outbox (payload) values (${nestedDocument()})`.execute(store.db);
    await sql`insert into outbox (payload) values (${GOOD})`.execute(store.db);
    poller = await startOutboxPoller(config, { log: () => {}, onCommitted: () => {} });
    const rows = await waitUntil(async () => {
      const { rows } = await sql<{ id: number; state: string; error: string | null }>`
        select id, state, error from outbox order by id`.execute(store.db);
      return rows.every((r) => r.state === "accepted" || r.state === "failed") ? rows : null;
    }, { timeoutMs: 30_000, message: "both rows finished" });
    assertEquals(rows.map((r) => r.state), ["failed", "accepted"]);
    assertMatch(rows[0].error ?? "", REFUSED);
    const stored = await store.db.selectFrom("messages").select(["meta"]).execute();
    assertEquals(stored.length, 1, "only the good row became a message");
  } finally {
    await poller?.stop();
    await store.close();
  }
});

Deno.test("intake SMTP: header fields, header lines and recipients limited; session goes on", async () => {
  await using fx = await startSmtpFixture({ smtp: { max_recipients: 3 }, workers: 1 });
  const c = await RawSmtp.connect("127.0.0.1", fx.ports.smtp);
  try {
    assertEquals((await c.read()).code, 220);
    assertEquals((await c.command("EHLO client.test")).code, 250);
    const transaction = async (data: string, rcpts = 1) => {
      assertEquals((await c.command("MAIL FROM:<a@x.test>")).code, 250);
      const codes: number[] = [];
      for (let i = 0; i < rcpts; i++) {
        codes.push((await c.command(`RCPT TO:<r${i}@remote.test>`)).code);
      }
      assertEquals((await c.command("DATA")).code, 354);
      c.write(data.replace(/\r\n\./g, "\r\n..") + "\r\n.\r\n");
      return { codes, reply: await c.read() };
    };
    const fields = Array.from({ length: 1000 }, (_, i) => `X-${i}: v\r\n`).join("");
    const tooMany = await transaction(testMessage("fields", fields));
    assertEquals(tooMany.reply.code, 552, tooMany.reply.text);
    assertMatch(tooMany.reply.text, /^5\.3\.4 Error: message header has more than 1000 fields/);

    const tooLong = await transaction(testMessage("line", `X-Long: ${"q".repeat(991)}\r\n`));
    assertEquals(tooLong.reply.code, 554, tooLong.reply.text);
    assertMatch(tooLong.reply.text, /^5\.6\.0 Error: message header line longer than 998 octets/);

    // RFC 5321 §4.5.3.1.10: a server over its recipient limit answers 452 at RCPT.
    const wide = await transaction(testMessage("four recipients"), 4);
    assertEquals(wide.codes, [250, 250, 250, 452]);
    assertEquals(wide.reply.code, 250, wide.reply.text);

    // The longest allowed line (998 octets) and 999 fields are fine.
    const edge = Array.from({ length: 995 }, (_, i) => `X-${i}: v\r\n`).join("") +
      `X-Long: ${"q".repeat(990)}\r\n`;
    const fine = await transaction(testMessage("edge", edge));
    assertEquals(fine.reply.code, 250, fine.reply.text);
    const id = /queued as (\S+)/.exec(fine.reply.text)![1];
    assert(fx.message(id)?.body.includes("X-Long: q"), "the message is stored");
    assertEquals((await c.command("QUIT")).code, 221);
  } finally {
    await c.close();
  }
});
