/**
 * The SMTP client and its surroundings: dot-stuffing and CRLF normalisation on the wire,
 * 8BITMIME and SMTPUTF8 parameters, multi-line replies, servers without PIPELINING, idle close,
 * the connection rate limit, and the DNS cache honouring TTLs.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { startDnsServer } from "./helpers/dns_server.ts";
import { uniqueLoopbackIp } from "./helpers/net.ts";
import { startSmtpSink } from "./helpers/smtp_sink.ts";
import { startDeliveryEngine } from "./helpers/delivery_engine.ts";
import { waitUntil } from "./helpers/wait.ts";
import {
  dataParts,
  dataSection,
  prepareBody,
  SmtpClientConnection,
} from "../core/delivery/smtp_client.ts";
import { MxResolver } from "../core/routing/mx.ts";
import { parseConfig } from "../core/config/mod.ts";
import { readControlHeaders } from "../core/delivery/headers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function session(options: Parameters<typeof startSmtpSink>[0] = {}) {
  const sink = await startSmtpSink({ hostname: uniqueLoopbackIp(), ...options });
  const { conn, greeting } = await SmtpClientConnection.open({
    host: sink.hostname,
    port: sink.port,
    localAddress: "127.0.0.10",
    connectTimeoutMs: 5_000,
    commandTimeoutMs: 5_000,
  });
  assertEquals(greeting.code, 220);
  return { sink, conn };
}

Deno.test("bodies are dot-stuffed and bare LF becomes CRLF; the sink gets the original back", async () => {
  const { sink, conn } = await session();
  try {
    await conn.hello("client.test");
    const body = ".starts with a dot\nbare LF line\r\n..two dots\r\nlast line without newline";
    const result = await conn.transaction("a@x.test", ["b@y.test"], encoder.encode(body));
    assertEquals(result.data?.code, 250);
    const [message] = await sink.waitForMessages(1);
    assertEquals(
      message.text(),
      ".starts with a dot\r\nbare LF line\r\n..two dots\r\nlast line without newline\r\n",
    );
    assertEquals(message.remoteAddress, "127.0.0.10");
  } finally {
    await conn.quit();
    await sink.close();
  }
  assertEquals(
    decoder.decode(prepareBody(encoder.encode("a\n.b\n"))),
    "a\r\n..b\r\n",
  );
  assertEquals(
    decoder.decode(prepareBody(encoder.encode("already\r\nclean\r\n"))),
    "already\r\nclean\r\n",
  );
  assertEquals(decoder.decode(dataSection(encoder.encode(""))), ".\r\n");
  assertEquals(decoder.decode(dataSection(encoder.encode("x"))), "x\r\n.\r\n");
  // The no-copy path writes the same bytes as the copying one, for every kind of body.
  for (
    const text of [
      "",
      "x",
      "a\r\nb\r\n",
      ".a\r\n",
      "a\r\n.b\r\n",
      "a\nb\r\n",
      "a\r\nb",
      "\r\n",
      "\n",
      "a\r\n\r\n.\r\n",
    ]
  ) {
    const body = encoder.encode(text);
    const joined = dataParts(body).map((p) => decoder.decode(p)).join("");
    assertEquals(joined, decoder.decode(dataSection(body)), JSON.stringify(text));
  }
  const clean = encoder.encode("already\r\nclean\r\n");
  assert(dataParts(clean)[0] === clean, "a wire-ready body is written without a copy");
});

Deno.test("8BITMIME and SMTPUTF8 are declared when needed and offered", async () => {
  const { sink, conn } = await session();
  try {
    await conn.hello("client.test");
    await conn.transaction("a@x.test", ["b@y.test"], encoder.encode("Subject: caf\u00e9\r\n\r\n"));
    await conn.transaction("j\u00f6rg@x.test", ["b@y.test"], encoder.encode("plain\r\n"));
    const [eight, utf8] = await sink.waitForMessages(2);
    assert(eight.mailParams.includes("BODY=8BITMIME"), eight.mailParams.join(" "));
    assert(!eight.mailParams.includes("SMTPUTF8"));
    assert(utf8.mailParams.includes("SMTPUTF8"), utf8.mailParams.join(" "));
    assert(!utf8.mailParams.includes("BODY=8BITMIME"));
    assertEquals(utf8.mailFrom, "j\u00f6rg@x.test");
  } finally {
    await conn.quit();
    await sink.close();
  }
});

Deno.test("an address that needs SMTPUTF8 fails when the server does not offer it", async () => {
  const { sink, conn } = await session({ extensions: ["PIPELINING", "8BITMIME"] });
  try {
    await conn.hello("client.test");
    const result = await conn.transaction(
      "a@x.test",
      ["m\u00fcller@y.test"],
      encoder.encode("x\r\n"),
    );
    assertEquals(result.mail.code, 553);
    assertMatch(result.mail.text, /SMTPUTF8/);
    assertEquals(sink.dataTransfers, 0);
    // The connection stays usable.
    const ok = await conn.transaction("a@x.test", ["b@y.test"], encoder.encode("x\r\n"));
    assertEquals(ok.data?.code, 250);
  } finally {
    await conn.quit();
    await sink.close();
  }
});

Deno.test("multi-line replies are read whole; servers without PIPELINING get one command at a time", async () => {
  const commands: string[] = [];
  const { sink, conn } = await session({
    extensions: ["8BITMIME"],
    reply: ({ command }) => {
      commands.push(command);
      if (command === "DATA_END") return "250-2.0.0 Ok: queued\n250-as ABC123\n250 thanks";
    },
  });
  try {
    const hello = await conn.hello("client.test");
    assertEquals(hello.code, 250);
    assert(!conn.capabilities.has("PIPELINING"));
    const result = await conn.transaction(
      "a@x.test",
      ["b@y.test", "c@y.test"],
      encoder.encode("x\r\n"),
    );
    assertEquals(result.data?.code, 250);
    assertEquals(result.data?.text, "2.0.0 Ok: queued as ABC123 thanks");
    assertEquals(result.data?.lines.length, 3);
    assertEquals(commands, ["CONNECT", "EHLO", "MAIL", "RCPT", "RCPT", "DATA", "DATA_END"]);
  } finally {
    await conn.quit();
    await sink.close();
  }
});

Deno.test("an idle connection is closed with QUIT after idle_timeout", async () => {
  const ip = uniqueLoopbackIp();
  const commands: string[] = [];
  await using sink = await startSmtpSink({
    hostname: ip,
    reply: ({ command }) => {
      commands.push(command);
      return undefined;
    },
  });
  await using dns = await startDnsServer({ zones: { "idle.test": { A: [ip] } } });
  await using engine = await startDeliveryEngine({
    dns: { servers: [dns.address] },
    delivery: { remote_port: sink.port, idle_timeout: "150ms" },
  });
  const id = await engine.send({ to: ["u@idle.test"] });
  await engine.waitForStates(id, ["delivered"]);
  await sink.waitFor((s) => s.activeConnections === 0, 10_000, "the idle connection to close");
  assertEquals(commands.at(-1), "QUIT");
});

Deno.test("a connection rate limit holds mail that would need a new connection", async () => {
  const ip = uniqueLoopbackIp();
  await using sink = await startSmtpSink({ hostname: ip });
  await using dns = await startDnsServer({ zones: { "connrate.test": { A: [ip] } } });
  await using engine = await startDeliveryEngine({
    dns: { servers: [dns.address] },
    delivery: {
      remote_port: sink.port,
      shaping: {
        "connrate.test": { connection_rate: "1/h", max_messages_per_connection: 1 },
      },
    },
  });
  const a = await engine.send({ to: ["a@connrate.test"] });
  await engine.waitForStates(a, ["delivered"]);
  const b = await engine.send({ to: ["b@connrate.test"] });
  await waitUntil(async () => (await engine.unit(b)).held === "local_limit");
  assertEquals((await engine.unit(b)).attempts, 0);
  assertEquals(sink.connections, 1);
});

Deno.test("DNS answers are cached for their TTL, capped by dns.cache_ttl", async () => {
  await using dns = await startDnsServer({
    zones: {
      "ttl.test": { MX: [{ preference: 10, exchange: "mx.ttl.test" }] },
      "mx.ttl.test": { A: ["127.0.0.2"] },
    },
  });
  const resolver = new MxResolver(
    parseConfig({ dns: { servers: [dns.address], cache_ttl: "300ms" } }),
  );
  const first = await resolver.resolve("ttl.test");
  assert(first.kind === "hosts");
  assertEquals(first.hosts[0].addresses, ["127.0.0.2"]);
  const queries = dns.queries;
  await resolver.resolve("ttl.test");
  assertEquals(dns.queries, queries, "answered from cache");
  dns.setRecords("mx.ttl.test", { A: ["127.0.0.3"] });
  // The records' TTL is 60 s; the 300 ms cap makes the change visible.
  await waitUntil(async () => {
    const again = await resolver.resolve("ttl.test");
    return again.kind === "hosts" && again.hosts[0].addresses[0] === "127.0.0.3";
  }, { timeoutMs: 5_000 });
});

Deno.test("control headers are read from the header section only and removed", () => {
  const message = "X-FastMTA-Pool: green\r\nSubject: hi\r\nX-Group-Id: a\r\n b\r\n\r\n" +
    "X-FastMTA-Pool: body line, not a header\r\n";
  const { values, body } = readControlHeaders(encoder.encode(message));
  assertEquals(values.get("x-fastmta-pool"), "green");
  assertEquals(values.get("x-group-id"), "a b");
  assertEquals(
    decoder.decode(body),
    "Subject: hi\r\n\r\nX-FastMTA-Pool: body line, not a header\r\n",
  );
  const plain = encoder.encode("Subject: x\r\n\r\nbody\r\n");
  assert(readControlHeaders(plain).body === plain, "no copy without control headers");
});
