/**
 * `fastmta send`, the command-line channel, with real processes: a message sent while no server
 * runs is durable and delivered once one starts; a raw message with LF line ends and an inject
 * JSON document reach a sink through a running server, with our headers and CRLF line ends;
 * refused input exits 2 and queues nothing.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { startDnsServer } from "./helpers/dns_server.ts";
import { freePort, tempDir } from "./helpers/net.ts";
import { sharedDatabase, testVhost } from "./helpers/rabbitmq.ts";
import { runCli, startServer } from "./helpers/server_process.ts";
import { startSmtpSink } from "./helpers/smtp_sink.ts";
import { withCrlfLineEnds } from "../cli/send.ts";
import { parseConfig } from "../core/config/mod.ts";
import { openStore } from "../core/store/mod.ts";

const QUEUE_ID = /^[0-9B-Z]{16}$/;
const HOSTNAME = "relay.cli.test";

/**
 * A sink behind MX records for cli.test, and a config (written to a file) that routes there;
 * `distributed`: RabbitMQ (a vhost of its own) and a shared PostgreSQL database.
 */
async function setup(options: { distributed?: boolean } = {}) {
  const sink = await startSmtpSink();
  const dns = await startDnsServer({
    zones: {
      "cli.test": { MX: [{ preference: 10, exchange: "mx.cli.test" }] },
      "mx.cli.test": { A: ["127.0.0.1"] },
    },
  });
  const dir = tempDir("fastmta-send-");
  const vhost = options.distributed ? await testVhost() : null;
  const database = options.distributed ? await sharedDatabase(dir.path) : null;
  const config = {
    data_dir: dir.path,
    ...(vhost && database ? { rabbitmq: vhost.config, database: database.config } : {}),
    smtp: {
      listen: [`127.0.0.1:${freePort()}`],
      hostname: HOSTNAME,
      max_message_size: 4096,
      max_recipients: 2,
    },
    admin: { listen: `127.0.0.1:${freePort()}` },
    dns: { servers: [dns.address] },
    delivery: { remote_port: sink.port },
  };
  const configPath = `${dir.path}/config.json`;
  await Deno.writeTextFile(configPath, JSON.stringify(config));
  return {
    sink,
    config,
    dir: dir.path,
    send: (args: string[], stdin?: string) =>
      runCli(["send", "--config", configPath, ...args], { stdin }),
    async [Symbol.asyncDispose]() {
      await sink.close();
      await dns.close();
      await database?.[Symbol.asyncDispose]();
      await dir[Symbol.asyncDispose]();
    },
  };
}

function queueIdOf(result: { code: number; stdout: string; stderr: string }): string {
  assertEquals(result.code, 0, result.stderr);
  const id = result.stdout.trim();
  assertMatch(id, QUEUE_ID);
  return id;
}

Deno.test("send: queued while no server runs, delivered once one starts", async () => {
  await using env = await setup();
  const id = queueIdOf(
    await env.send(
      ["--from", "<>", "--to", "<later@cli.test>"],
      "Subject: queued offline\n\nDurable before any server ran.\n",
    ),
  );
  const store = await openStore(parseConfig(env.config), "admin");
  try {
    const status = await store.messageStatus(id);
    assertEquals(status?.channel, "cli");
    assertEquals(status?.recipients.map((r) => [r.address, r.state]), [[
      "later@cli.test",
      "queued",
    ]]);
  } finally {
    await store.close();
  }

  await using _server = await startServer({ config: env.config });
  const [message] = await env.sink.waitForMessages(1, 20_000);
  assertEquals(message.mailFrom, "");
  assertEquals(message.rcptTo, ["later@cli.test"]);
  assertMatch(message.text(), new RegExp(`with local id ${id}\r\n\tfor <later@cli.test>;`));
  assertMatch(message.text(), /\r\n\r\nDurable before any server ran\.\r\n$/);
});

Deno.test("send: raw and --json messages reach the sink through a running server", async () => {
  await using env = await setup();
  await using _server = await startServer({ config: env.config });
  const jsonFile = `${env.dir}/message.json`;
  await Deno.writeTextFile(
    jsonFile,
    JSON.stringify({
      from: "app@origin.test",
      to: ["b@cli.test", "c@cli.test"],
      subject: "Composed",
      text: "Hello from JSON.",
      headers: { "X-Tag": "cli" },
      metadata: { order: 4711 },
    }),
  );
  const [raw, json] = await Promise.all([
    env.send(
      ["--from", "sender@origin.test", "--to", "a@cli.test"],
      "From: <sender@origin.test>\nTo: <a@cli.test>\nSubject: from a file\n\n" +
        "Line one.\n.A line with a leading dot.\nThe last line has no line end.",
    ),
    env.send(["--json", jsonFile]),
  ]);
  const rawId = queueIdOf(raw);
  const jsonId = queueIdOf(json);

  const messages = await env.sink.waitForMessages(2, 20_000);
  const byId = (id: string) => {
    const found = messages.find((m) => m.text().includes(` id ${id}`));
    assert(found, `message ${id} delivered`);
    return found;
  };

  const plain = byId(rawId);
  assertEquals(plain.mailFrom, "sender@origin.test");
  assertEquals(plain.rcptTo, ["a@cli.test"]);
  const text = plain.text();
  assert(!/[^\r]\n/.test(text), `bare LF delivered:\n${JSON.stringify(text)}`);
  assertMatch(
    text,
    new RegExp(
      `^Received: from local \\(fastmta send\\)\r\n\tby ${HOSTNAME} \\(fastmta\\) with local ` +
        `id ${rawId}\r\n\tfor <a@cli\\.test>;\r\n\t[^\r\n]+\r\nMessage-ID: <${rawId}@${HOSTNAME}>` +
        `\r\nFrom: <sender@origin\\.test>\r\n`,
    ),
  );
  assertMatch(
    text,
    /\r\n\r\nLine one\.\r\n\.A line with a leading dot\.\r\nThe last line has no line end\.\r\n$/,
  );

  const composed = byId(jsonId);
  assertEquals(composed.mailFrom, "app@origin.test");
  assertEquals(composed.rcptTo, ["b@cli.test", "c@cli.test"]);
  const composedText = composed.text();
  assertMatch(composedText, /^Received: from local \(fastmta send\)\r\n/);
  assert(!/\r\n\tfor </.test(composedText), "no `for` clause with two recipients");
  assertMatch(composedText, new RegExp(`\r\nMessage-ID: <${jsonId}@${HOSTNAME}>\r\n`));
  assertMatch(composedText, /\r\nSubject: Composed\r\n/);
  assertMatch(composedText, /\r\nX-Tag: cli\r\n/);
  assertMatch(composedText, /\r\n\r\nHello from JSON\.\r\n$/);
});

Deno.test("send: with RabbitMQ the unit is published, and a running node delivers it", async () => {
  await using env = await setup({ distributed: true });
  // No polling to fall back on: the broker must push the unit to the node.
  await using _server = await startServer({
    config: { ...env.config, queue: { poll_interval: "1h" } },
  });
  const id = queueIdOf(
    await env.send(
      ["--from", "sender@origin.test", "--to", "d@cli.test"],
      "Subject: through the broker\n\nPublished.\n",
    ),
  );
  const [message] = await env.sink.waitForMessages(1, 20_000);
  assertEquals(message.rcptTo, ["d@cli.test"]);
  assertMatch(message.text(), new RegExp(`with local id ${id}\r\n`));
});

Deno.test("send: refused input exits 2, names the problem and queues nothing", async () => {
  await using env = await setup();
  const store = await openStore(parseConfig(env.config), "admin");
  try {
    await store.migrate();
    const small = "Subject: x\n\nHello.\n";
    const cases: [string[], string | undefined, RegExp][] = [
      [["--from", "s@origin.test", "--to", "not an address"], small, /Invalid recipient "not an/],
      [["--from", "s@origin.test"], small, /Missing --to/],
      [["--from", "s@", "--to", "a@cli.test"], small, /Invalid sender "s@"/],
      [
        ["--from", "s@origin.test", "--to", "a@cli.test,b@cli.test", "--to", "c@cli.test"],
        small,
        /Too many recipients: 3 \(smtp\.max_recipients is 2\)/,
      ],
      [
        ["--from", "s@origin.test", "--to", "a@cli.test"],
        `Subject: big\n\n${"x".repeat(5000)}\n`,
        /Message too large: more than 4096 bytes \(smtp\.max_message_size is 4096\)/,
      ],
      [["--json"], JSON.stringify({ from: "s@origin.test", to: [] }), /Invalid inject .*"to"/],
    ];
    const results = await Promise.all(cases.map(([args, stdin]) => env.send(args, stdin)));
    results.forEach((result, i) => {
      assertEquals(result.code, 2, `${cases[i][0].join(" ")}: ${result.stderr}`);
      assertMatch(result.stderr, cases[i][2]);
      assertEquals(result.stdout, "");
    });
    const stored = await store.db.selectFrom("messages").select((eb) => eb.fn.countAll().as("n"))
      .executeTakeFirstOrThrow();
    assertEquals(Number(stored.n), 0);
  } finally {
    await store.close();
  }
});

Deno.test("send: bare LF line ends become CRLF, and the last line gets one", () => {
  const crlf = (text: string) =>
    new TextDecoder().decode(withCrlfLineEnds(new TextEncoder().encode(text)));
  assertEquals(crlf("a\nb\r\nc"), "a\r\nb\r\nc\r\n");
  assertEquals(crlf("\n\n"), "\r\n\r\n");
  const clean = new TextEncoder().encode("a\r\nb\r\n");
  assert(withCrlfLineEnds(clean) === clean, "unchanged input is not copied");
});
