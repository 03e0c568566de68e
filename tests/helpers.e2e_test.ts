/**
 * Tests for the test helpers in tests/helpers/, against real sockets and real
 * third-party clients (Deno.resolveDns, swaks, Python smtplib).
 */

import assert from "node:assert/strict";
import { freePort, tempDir, uniqueLoopbackIp, waitForPort } from "./helpers/net.ts";
import { delay, waitUntil, withTimeout } from "./helpers/wait.ts";
import { queryDns, startDnsServer } from "./helpers/dns_server.ts";
import { SINK_DISCONNECT, type SmtpSink, startSmtpSink } from "./helpers/smtp_sink.ts";
import { parseQueueId, sendWithSmtplib, sendWithSwaks } from "./helpers/smtp_client.ts";
import { generateSelfSignedCert } from "./helpers/tls_cert.ts";
import {
  makeServerConfig,
  runCli,
  splitHostPort,
  startServer,
  withServer,
} from "./helpers/server_process.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const FAKE_SERVER = new URL("./fixtures/fake_server.ts", import.meta.url).pathname;

/**
 * Minimal raw SMTP client: writes each chunk as its own write and reads until
 * `finalReplies` complete replies ("ddd " lines) arrived or the peer closed.
 */
async function rawSmtp(
  hostname: string,
  port: number,
  chunks: string[],
  finalReplies: number,
): Promise<string[]> {
  const conn = await Deno.connect({ hostname, port });
  try {
    conn.setNoDelay(true);
    const lines: string[] = [];
    let text = "";
    let finals = 0;
    const reader = (async () => {
      const buf = new Uint8Array(65536);
      while (finals < finalReplies) {
        const n = await conn.read(buf);
        if (n === null) break;
        text += decoder.decode(buf.subarray(0, n));
        let i;
        while ((i = text.indexOf("\r\n")) !== -1) {
          const line = text.slice(0, i);
          text = text.slice(i + 2);
          lines.push(line);
          if (/^\d{3} /.test(line)) finals++;
        }
      }
    })();
    for (const chunk of chunks) await conn.write(encoder.encode(chunk));
    await withTimeout(reader, 10_000, `rawSmtp: got only ${lines.length} lines`);
    return lines;
  } finally {
    conn.close();
  }
}

// ---------------------------------------------------------------- net / wait

Deno.test("freePort returns a port that can be bound", () => {
  const port = freePort();
  assert.ok(port > 0 && port < 65536);
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  listener.close();
});

Deno.test("uniqueLoopbackIp yields distinct bindable 127.x addresses", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const ip = uniqueLoopbackIp();
    const m = ip.match(/^127\.(\d+)\.(\d+)\.(\d+)$/);
    assert.ok(m, ip);
    const [x, , z] = [Number(m[1]), Number(m[2]), Number(m[3])];
    assert.ok(x >= 100 && x <= 200, ip);
    assert.ok(z !== 0 && z !== 255, ip);
    assert.ok(!seen.has(ip), `duplicate ${ip}`);
    seen.add(ip);
  }
  const ip = uniqueLoopbackIp();
  const listener = Deno.listen({ hostname: ip, port: 0 });
  assert.equal((listener.addr as Deno.NetAddr).hostname, ip);
  listener.close();
});

Deno.test("waitForPort waits for a listener and times out without one", async () => {
  const port = freePort();
  // Start waiting first; the listener opens only after the first failed poll.
  let attempts = 0;
  const waiting = waitForPort("127.0.0.1", port, 5000, { intervalMs: 10 });
  await waitUntil(() => ++attempts > 2, { intervalMs: 5 });
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const accepting = listener.accept().then((c) => c.close());
  await waiting;
  await accepting;
  listener.close();

  await assert.rejects(
    waitForPort("127.0.0.1", freePort(), 100),
    /did not accept connections within 100 ms/,
  );
});

Deno.test("tempDir is removed on dispose", async () => {
  let path: string;
  {
    await using dir = tempDir("helpers-test-");
    path = dir.path;
    await Deno.writeTextFile(`${path}/f.txt`, "x");
    assert.ok((await Deno.stat(path)).isDirectory);
  }
  await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
});

Deno.test("waitUntil resolves with the value and reports timeouts", async () => {
  let n = 0;
  assert.equal(await waitUntil(() => (++n >= 3 ? n : 0), { intervalMs: 1 }), 3);
  await assert.rejects(
    waitUntil(() => false, { timeoutMs: 50, message: "never" }),
    /never not met within 50 ms/,
  );
  await assert.rejects(withTimeout(delay(1000), 20, "slow"), /slow/);
});

// ---------------------------------------------------------------- DNS

Deno.test("dns server answers MX, A, AAAA, TXT, NXDOMAIN, NODATA, null MX", async () => {
  await using dns = await startDnsServer({
    zones: {
      "Example.TEST": {
        MX: [
          { preference: 10, exchange: "mx1.example.test" },
          { preference: 20, exchange: "MX2.example.test." },
        ],
        TXT: ["v=spf1 ip4:127.0.0.0/8 -all", "x".repeat(300)],
      },
      "mx1.example.test": { A: ["127.0.100.1", "127.0.100.2"], AAAA: ["::1"] },
      "multi.test": { TXT: [["part one", "part two"]] },
      "nullmx.test": { MX: [{ preference: 0, exchange: "." }] },
      "gone.test": { nxdomain: true, A: ["127.0.0.9"] },
    },
  });
  const ns = { nameServer: { ipAddr: "127.0.0.1", port: dns.port } };

  const mx = await Deno.resolveDns("example.test", "MX", ns);
  assert.deepEqual(
    mx.map((r) => ({ ...r })).sort((a, b) => a.preference - b.preference),
    [
      { preference: 10, exchange: "mx1.example.test." },
      { preference: 20, exchange: "mx2.example.test." },
    ],
  );
  // Case-insensitive lookup, trailing dot accepted.
  assert.deepEqual(
    (await Deno.resolveDns("MX1.Example.Test.", "A", ns)).sort(),
    ["127.0.100.1", "127.0.100.2"],
  );
  assert.deepEqual(await Deno.resolveDns("mx1.example.test", "AAAA", ns), ["::1"]);

  const txt = await Deno.resolveDns("example.test", "TXT", ns);
  const joined = txt.map((chunks) => chunks.join("")).sort();
  assert.deepEqual(joined, ["v=spf1 ip4:127.0.0.0/8 -all", "x".repeat(300)].sort());
  assert.deepEqual(
    txt.find((c) => c.join("").startsWith("x"))!.map((c) => c.length),
    [255, 45],
  );
  assert.deepEqual(await Deno.resolveDns("multi.test", "TXT", ns), [["part one", "part two"]]);

  const nullMx = await Deno.resolveDns("nullmx.test", "MX", ns);
  assert.deepEqual(nullMx.map((r) => ({ ...r })), [{ preference: 0, exchange: "." }]);

  await assert.rejects(Deno.resolveDns("unknown.test", "A", ns), Deno.errors.NotFound);
  await assert.rejects(Deno.resolveDns("gone.test", "A", ns), Deno.errors.NotFound);
  await assert.rejects(Deno.resolveDns("example.test", "A", ns), Deno.errors.NotFound);

  // Deno reports NXDOMAIN and NODATA alike; the raw rcode tells them apart.
  assert.equal((await queryDns(dns, "unknown.test", "A")).rcode, "NXDOMAIN");
  assert.equal((await queryDns(dns, "gone.test", "A")).rcode, "NXDOMAIN");
  const nodata = await queryDns(dns, "example.test", "A");
  assert.equal(nodata.rcode, "NOERROR");
  assert.equal(nodata.answers.length, 0);
  const viaTcp = await queryDns(dns, "mx1.example.test", "A", { tcp: true });
  assert.equal(viaTcp.rcode, "NOERROR");
  assert.equal(viaTcp.answers.length, 2);
  assert.equal(viaTcp.answers[0].ttl, 60);
  assert.ok(dns.queries >= 12, `queries=${dns.queries}`);
});

Deno.test("dns server: setRecords/deleteRecords and TCP fallback for big answers", async () => {
  await using dns = await startDnsServer({ zones: {} });
  const ns = { nameServer: { ipAddr: "127.0.0.1", port: dns.port } };
  await assert.rejects(Deno.resolveDns("late.test", "A", ns), Deno.errors.NotFound);
  dns.setRecords("LATE.test", { A: ["127.0.0.77"] });
  assert.deepEqual(await Deno.resolveDns("late.test", "A", ns), ["127.0.0.77"]);
  dns.deleteRecords("late.test");
  await assert.rejects(Deno.resolveDns("late.test", "A", ns), Deno.errors.NotFound);

  // ~4 KB of TXT: too big for UDP, so the answer is truncated and the
  // resolver must retry over TCP to get all 20 records.
  const records = Array.from({ length: 20 }, (_, i) => `record-${i}-${"t".repeat(190)}`);
  dns.setRecords("big.test", { TXT: records });
  const udp = await queryDns(dns, "big.test", "TXT");
  assert.ok(udp.flag_tc, "UDP answer should be truncated");
  const before = dns.queries;
  const txt = await Deno.resolveDns("big.test", "TXT", ns);
  assert.deepEqual(txt.map((c) => c.join("")).sort(), [...records].sort());
  assert.ok(dns.queries - before >= 2, "expected a UDP query plus a TCP retry");
});

Deno.test("dns server binds a fixed port and a non-default loopback address", async () => {
  const hostname = uniqueLoopbackIp();
  const port = freePort(hostname);
  await using dns = await startDnsServer({
    hostname,
    port,
    zones: { "a.test": { A: ["127.1.2.3"] } },
  });
  assert.equal(dns.port, port);
  assert.equal(dns.address, `${hostname}:${port}`);
  const ns = { nameServer: { ipAddr: hostname, port } };
  assert.deepEqual(await Deno.resolveDns("a.test", "A", ns), ["127.1.2.3"]);
});

// ---------------------------------------------------------------- SMTP sink

Deno.test("sink receives mail from swaks with pipelining and from smtplib", async () => {
  await using sink = await startSmtpSink({ ehloHostname: "sink.example" });
  const server = `127.0.0.1:${sink.port}`;
  const message = "From: a@x.test\r\nTo: b@y.test\r\nSubject: swaks\r\n\r\nhello\r\n";

  const swaks = await sendWithSwaks({
    server,
    from: "a@x.test",
    to: ["b@y.test", "c@y.test"],
    data: message,
    helo: "client.swaks",
    pipeline: true,
  });
  assert.equal(swaks.code, 0, swaks.stdout + swaks.stderr);
  assert.match(swaks.stdout, /250-PIPELINING/);
  assert.equal(swaks.queueId, "SINK000001");

  const py = await sendWithSmtplib({
    server,
    from: "d@x.test",
    to: ["e@y.test"],
    data: "Subject: smtplib\n\nbare LF lines\n",
    helo: "client.python",
  });
  assert.equal(py.code, 0, py.stdout + py.stderr);
  assert.equal(py.queueId, "SINK000002");
  assert.deepEqual(py.mailReply, { code: 250, text: "2.1.0 Ok" });

  const [m1, m2] = await sink.waitForMessages(2);
  assert.equal(m1.mailFrom, "a@x.test");
  assert.deepEqual(m1.rcptTo, ["b@y.test", "c@y.test"]);
  assert.equal(m1.text(), message);
  assert.deepEqual(m1.data, encoder.encode(message));
  assert.equal(m1.helo, "client.swaks");
  assert.equal(m1.remoteAddress, "127.0.0.1");
  assert.equal(m1.tls, false);
  assert.equal(m1.queueId, "SINK000001");
  assert.equal(m2.text(), "Subject: smtplib\r\n\r\nbare LF lines\r\n");
  assert.equal(m2.helo, "client.python");
  assert.notEqual(m1.sessionId, m2.sessionId);
  assert.equal(sink.connections, 2);
  await sink.waitFor((s) => s.activeConnections === 0, 5000, "connections to close");
});

Deno.test("sink dot-unstuffs exactly and keeps 8-bit / SMTPUTF8 data", async () => {
  await using sink = await startSmtpSink();
  const body = [
    "Subject: dots",
    "",
    ".leading dot",
    "..two dots",
    ".",
    "x.",
    "ünïcödé ✓",
    "",
    "last",
  ].join("\r\n") + "\r\n";
  const res = await sendWithSmtplib({
    server: `127.0.0.1:${sink.port}`,
    from: "sénder@x.test",
    to: ["rcpt@ÿ.test"],
    data: body,
    mailOptions: ["SMTPUTF8", "BODY=8BITMIME"],
  });
  assert.equal(res.code, 0, res.stdout + res.stderr);
  const [m] = await sink.waitForMessages(1);
  assert.deepEqual(m.data, encoder.encode(body));
  assert.equal(m.size, encoder.encode(body).length);
  assert.equal(m.mailFrom, "sénder@x.test");
  assert.deepEqual(m.rcptTo, ["rcpt@ÿ.test"]);
  assert.deepEqual(m.mailParams, ["SMTPUTF8", "BODY=8BITMIME"]);
});

Deno.test("sink handles pipelined commands and data split at awkward places", async () => {
  await using sink = await startSmtpSink();
  // Everything up to DATA in one write, the data and QUIT split so that the
  // final CRLF.CRLF straddles writes.
  const lines = await rawSmtp("127.0.0.1", sink.port, [
    "EHLO raw.test\r\nMAIL FROM:<a@x.test> SIZE=100\r\nRCPT TO:<b@y.test>\r\n" +
    "RCPT TO:<c@y.test>\r\nDATA\r\n",
    "Subject: raw\r\n\r\n..stuffed\r",
    "\n.",
    "\r",
    "\nRSET\r\nMAIL FROM:<>\r\nRCPT TO:<d@y.test>\r\nDATA\r\n.\r\nNOOP\r\nQUIT\r\n",
  ], 14);
  const finals = lines.filter((l) => /^\d{3} /.test(l)).map((l) => l.slice(0, 3));
  assert.deepEqual(finals, [
    "220", // greeting
    "250", // EHLO
    "250", // MAIL
    "250", // RCPT
    "250", // RCPT
    "354", // DATA
    "250", // end of data
    "250", // RSET
    "250", // MAIL FROM:<>
    "250", // RCPT
    "354", // DATA
    "250", // empty message
    "250", // NOOP
    "221", // QUIT
  ]);
  const [m1, m2] = await sink.waitForMessages(2);
  assert.equal(m1.text(), "Subject: raw\r\n\r\n.stuffed\r\n");
  assert.deepEqual(m1.mailParams, ["SIZE=100"]);
  assert.equal(m2.mailFrom, "");
  assert.equal(m2.size, 0);
  assert.equal(m2.text(), "");
  assert.equal(m1.sessionId, m2.sessionId);
  await sink.waitFor((s) => s.activeConnections === 0, 5000, "QUIT to close");
});

Deno.test("sink enforces command order and a bare-LF dot does not end DATA", async () => {
  await using sink = await startSmtpSink();
  const lines = await rawSmtp("127.0.0.1", sink.port, [
    "MAIL FROM:<a@x.test>\r\nHELO h\r\nRCPT TO:<b@y.test>\r\nDATA\r\nBOGUS\r\n" +
    "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n",
    "one\n.\ntwo\r\n.\r\n",
    "QUIT\r\n",
  ], 11);
  const codes = lines.map((l) => l.slice(0, 3));
  assert.deepEqual(codes, [
    "220",
    "503", // MAIL before HELO
    "250", // HELO
    "503", // RCPT without MAIL
    "503", // DATA without MAIL
    "500", // unknown command
    "250",
    "250",
    "354",
    "250",
    "221",
  ]);
  const [m] = await sink.waitForMessages(1);
  assert.equal(m.text(), "one\n.\ntwo\r\n");
});

Deno.test("sink reply hook: rejections, temp failures and messageIndex", async () => {
  const seen: string[] = [];
  await using sink = await startSmtpSink({
    reply: ({ command, arg, messageIndex, session }) => {
      seen.push(command);
      if (command === "RCPT" && arg.includes("<nobody@")) return "550 5.1.1 No such user";
      if (command === "DATA_END" && messageIndex === 0) return "451 4.3.0 Try again later";
      if (command === "DATA_END") {
        assert.equal(session.rcptTo.length, 1);
        assert.equal(session.mailFrom, "a@x.test");
      }
      return undefined;
    },
  });
  const server = `127.0.0.1:${sink.port}`;
  const first = await sendWithSmtplib({
    server,
    from: "a@x.test",
    to: ["nobody@y.test", "b@y.test"],
    data: "Subject: 1\r\n\r\nx\r\n",
  });
  assert.equal(first.code, 1);
  assert.deepEqual(first.rcptReplies?.map((r) => r.code), [550, 250]);
  assert.deepEqual(first.dataReply, { code: 451, text: "4.3.0 Try again later" });
  assert.equal(first.queueId, undefined);

  const second = await sendWithSwaks({
    server,
    from: "a@x.test",
    to: ["b@y.test"],
    data: "Subject: 2\r\n\r\nx\r\n",
  });
  assert.equal(second.code, 0, second.stdout);
  assert.ok(second.queueId);
  const messages = await sink.waitForMessages(1);
  assert.equal(messages.length, 1);
  assert.deepEqual(messages[0].rcptTo, ["b@y.test"]);
  assert.equal(messages[0].text(), "Subject: 2\r\n\r\nx\r\n");
  assert.equal(sink.dataTransfers, 2);
  assert.ok(seen.includes("CONNECT") && seen.includes("EHLO") && seen.includes("QUIT"));
});

Deno.test("sink reply hook can drop the connection after DATA", async () => {
  await using sink = await startSmtpSink({
    reply: ({ command }) => command === "DATA_END" ? SINK_DISCONNECT : undefined,
  });
  const res = await sendWithSmtplib({
    server: `127.0.0.1:${sink.port}`,
    from: "a@x.test",
    to: ["b@y.test"],
    data: "Subject: drop\r\n\r\nx\r\n",
  });
  assert.equal(res.code, 2);
  assert.match(res.stderr, /SMTPServerDisconnected/);
  assert.equal(sink.messages.length, 0);
  assert.equal(sink.dataTransfers, 1);
});

Deno.test("sink async hook holds replies; concurrency is tracked", async () => {
  const ref: { sink?: SmtpSink } = {};
  await using sink = await startSmtpSink({
    // Hold every DATA_END until the third session has connected, so all three
    // are open at the same time.
    reply: async ({ command }) => {
      if (command === "DATA_END") {
        await ref.sink!.waitFor((s) => s.connections >= 3, 10_000, "3 connections");
      }
      return undefined;
    },
  });
  ref.sink = sink;
  const sends = [1, 2, 3].map((i) =>
    sendWithSmtplib({
      server: `127.0.0.1:${sink.port}`,
      from: `s${i}@x.test`,
      to: [`r${i}@y.test`],
      data: `Subject: ${i}\r\n\r\nx\r\n`,
    })
  );
  const results = await Promise.all(sends);
  assert.deepEqual(results.map((r) => r.code), [0, 0, 0]);
  assert.equal(sink.maxConcurrentConnections, 3);
  assert.equal(sink.connections, 3);
  const messages = await sink.waitForMessages(3);
  assert.deepEqual(messages.map((m) => m.mailFrom).sort(), ["s1@x.test", "s2@x.test", "s3@x.test"]);
});

Deno.test("sink on a unique loopback IP sees the client's source address", async () => {
  const hostname = uniqueLoopbackIp();
  const source = uniqueLoopbackIp();
  await using sink = await startSmtpSink({ hostname });
  const server = `${hostname}:${sink.port}`;
  const a = await sendWithSwaks({
    server,
    from: "a@x.test",
    to: ["b@y.test"],
    data: "Subject: src\r\n\r\nx\r\n",
    localAddress: source,
  });
  assert.equal(a.code, 0, a.stdout + a.stderr);
  const b = await sendWithSmtplib({
    server,
    from: "a@x.test",
    to: ["b@y.test"],
    data: "Subject: src\r\n\r\nx\r\n",
    localAddress: source,
  });
  assert.equal(b.code, 0, b.stdout + b.stderr);
  const messages = await sink.waitForMessages(2);
  for (const m of messages) {
    assert.equal(m.remoteAddress, source);
    assert.equal(m.localAddress, hostname);
  }
});

Deno.test("sink STARTTLS upgrade with a self-signed certificate", async () => {
  const cert = await generateSelfSignedCert({ commonName: "sink.test" });
  assert.match(cert.cert, /BEGIN CERTIFICATE/);
  await using sink = await startSmtpSink({ starttls: cert });
  const res = await sendWithSmtplib({
    server: `127.0.0.1:${sink.port}`,
    from: "a@x.test",
    to: ["b@y.test"],
    data: "Subject: tls\r\n\r\nsecret\r\n",
    starttls: true,
  });
  assert.equal(res.code, 0, res.stdout + res.stderr);
  const [m] = await sink.waitForMessages(1);
  assert.equal(m.tls, true);
  assert.equal(m.text(), "Subject: tls\r\n\r\nsecret\r\n");
  // Without STARTTLS configured the verb is refused and not advertised.
  await using plain = await startSmtpSink();
  const lines = await rawSmtp("127.0.0.1", plain.port, ["EHLO x\r\nSTARTTLS\r\nQUIT\r\n"], 4);
  assert.ok(!lines.some((l) => l.includes("STARTTLS")));
  assert.ok(lines.some((l) => l.startsWith("502")));
});

Deno.test("sink keepData:false counts messages without storing bodies", async () => {
  await using sink = await startSmtpSink({ keepData: false });
  const body = "Subject: big\r\n\r\n" + "0123456789abcdef\r\n".repeat(10_000);
  const res = await sendWithSmtplib({
    server: `127.0.0.1:${sink.port}`,
    from: "a@x.test",
    to: ["b@y.test"],
    data: body,
  });
  assert.equal(res.code, 0, res.stderr);
  const [m] = await sink.waitForMessages(1);
  assert.equal(m.size, body.length);
  assert.equal(m.data.length, 0);
  assert.deepEqual(m.rcptTo, ["b@y.test"]);
});

Deno.test("sink greeting override, size limit, waitForMessages timeout and close", async () => {
  await using rejecting = await startSmtpSink({ greeting: "554 5.3.2 not today" });
  const lines = await rawSmtp("127.0.0.1", rejecting.port, ["QUIT\r\n"], 2);
  assert.deepEqual(lines, ["554 5.3.2 not today", "221 2.0.0 Bye"]);

  const sink = await startSmtpSink({ maxMessageSize: 10, greeting: "custom banner" });
  const big = await rawSmtp("127.0.0.1", sink.port, [
    "EHLO x\r\nMAIL FROM:<a@x.test> SIZE=11\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\n" +
    "DATA\r\n0123456789ABC\r\n.\r\nQUIT\r\n",
  ], 7);
  assert.equal(big[0], "220 custom banner");
  assert.ok(big.includes("250-SIZE 10"));
  assert.ok(big.includes("552 5.3.4 Message size exceeds fixed limit"));
  assert.ok(big.includes("552 5.3.4 Message too big"));

  await assert.rejects(sink.waitForMessages(1, 50), /timed out after 50 ms waiting for 1 message/);
  // Attach the rejection handler before close() rejects the waiter.
  const pending = assert.rejects(sink.waitForMessages(5, 10_000), /closed/);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: sink.port });
  await sink.waitFor((s) => s.activeConnections === 1, 5000, "connection");
  await sink.close();
  await pending;
  // close() destroyed the open connection: the client reads EOF (after the banner).
  const buf = new Uint8Array(1024);
  let n: number | null;
  do n = await conn.read(buf).catch(() => null); while (n !== null);
  conn.close();
  assert.equal(sink.activeConnections, 0);
});

// ---------------------------------------------------------------- clients

Deno.test("parseQueueId understands common reply shapes", () => {
  assert.equal(parseQueueId("250 2.0.0 Ok: queued as 4XyZ12"), "4XyZ12");
  assert.equal(parseQueueId("2.0.0 queued as ABC.DEF."), "ABC.DEF");
  assert.equal(parseQueueId("250 OK id=1abc"), undefined);
});

Deno.test("smtplib helper reports connection errors", async () => {
  const res = await sendWithSmtplib({
    server: `127.0.0.1:${freePort()}`,
    from: "a@x.test",
    to: ["b@y.test"],
    data: "x\r\n",
    timeoutSec: 5,
  });
  assert.equal(res.code, 2);
  assert.match(res.stderr, /ConnectionRefused/);
});

// ---------------------------------------------------------------- server process

Deno.test("startServer runs a server process, sends mail through it and stops it", async () => {
  await using dir = tempDir();
  const smtpPort = freePort();
  const config = makeServerConfig({
    dataDir: `${dir.path}/data`,
    smtpPort,
    adminPort: freePort(),
    dnsPort: 53535,
    remotePort: 2525,
  });
  assert.deepEqual(config.smtp.listen, [`127.0.0.1:${smtpPort}`]);
  assert.ok("ip_addressess" in config);

  const server = await startServer({ config, entry: FAKE_SERVER, env: { FAKE_ENV: "1" } });
  try {
    assert.equal(server.smtpHost, "127.0.0.1");
    assert.equal(server.smtpPort, smtpPort);
    assert.equal(server.adminUrl, `http://${config.admin!.listen}`);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(server.configPath)), config);

    const a = await sendWithSwaks({
      server: server.smtpAddress,
      from: "a@x.test",
      to: ["b@y.test"],
      data: "Subject: via server\r\n\r\nx\r\n",
    });
    assert.equal(a.code, 0, a.stdout);
    assert.match(a.queueId ?? "", /^SINK\d+$/);
    const b = await sendWithSmtplib({
      server: server.smtpAddress,
      from: "a@x.test",
      to: ["b@y.test"],
      data: "Subject: via server\r\n\r\nx\r\n",
    });
    assert.equal(b.code, 0, b.stderr);
    assert.notEqual(b.queueId, a.queueId);
    await waitUntil(() => server.logs().includes("stderr works"));
  } finally {
    const status = await server.stop();
    assert.equal(status.code, 0, server.logs());
  }
  assert.match(server.logs(), /listening on 127\.0\.0\.1/);
  assert.match(server.logs(), /SIGTERM after 2 message/);
  await assert.rejects(Deno.stat(server.configPath), Deno.errors.NotFound);
});

Deno.test("startServer kill() and startup failure reporting", async () => {
  await using dir = tempDir();
  const base = makeServerConfig({
    dataDir: dir.path,
    smtpPort: freePort(),
    adminPort: freePort(),
    dnsPort: 1,
    remotePort: 1,
  });
  const status = await withServer({ config: base, entry: FAKE_SERVER }, async (server) => {
    const s = await server.kill();
    // A second stop after the exit is harmless.
    assert.deepEqual(await server.stop(), s);
    return s;
  });
  assert.equal(status.signal, "SIGKILL");

  // stop() escalates to SIGKILL when SIGTERM is ignored.
  const stubborn = await startServer({
    config: { ...base, fake_ignore_sigterm: true },
    entry: FAKE_SERVER,
  });
  const stopped = await stubborn.stop(300);
  assert.equal(stopped.signal, "SIGKILL");
  assert.match(stubborn.logs(), /ignoring SIGTERM/);

  await assert.rejects(
    startServer({ config: { ...base, fake_fail_startup: true }, entry: FAKE_SERVER }),
    /server exited with code 1[\s\S]*startup failure requested/,
  );
});

Deno.test("runCli returns exit code and output", async () => {
  await using dir = tempDir();
  const ok = await runCli(["queue", "--config", "x.json"], {
    entry: FAKE_SERVER,
    cwd: dir.path,
    env: { FAKE_ENV: "yes" },
  });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.success, true);
  assert.deepEqual(JSON.parse(ok.stdout), {
    args: ["queue", "--config", "x.json"],
    cwd: await Deno.realPath(dir.path),
    env: "yes",
  });
  assert.match(ok.stderr, /fake cli: stderr/);
  const bad = await runCli(["fail"], { entry: FAKE_SERVER });
  assert.equal(bad.code, 3);
  assert.equal(bad.success, false);
  assert.deepEqual(splitHostPort("[::1]:25"), { host: "::1", port: 25 });
});

Deno.test("smtplib helper can send bare LF untouched", async () => {
  await using sink = await startSmtpSink();
  const res = await sendWithSmtplib({
    server: `127.0.0.1:${sink.port}`,
    from: "a@x.test",
    to: ["b@y.test"],
    data: "Subject: lf\n\none\ntwo\r\n",
    fixLineEnds: false,
  });
  assert.equal(res.code, 0, res.stderr);
  const [m] = await sink.waitForMessages(1);
  assert.equal(m.text(), "Subject: lf\n\none\ntwo\r\n");
});

Deno.test("sink surfaces exceptions from the reply hook to waiters", async () => {
  await using sink = await startSmtpSink({
    reply: ({ command, arg }) => {
      if (command === "RCPT") assert.equal(arg, "TO:<expected@y.test>");
      return undefined;
    },
  });
  const waiting = assert.rejects(sink.waitForMessages(1), (err: Error) => {
    assert.match(err.message, /reply hook threw/);
    assert.match(String((err.cause as Error).message), /expected@y\.test/);
    return true;
  });
  const res = await sendWithSmtplib({
    server: `127.0.0.1:${sink.port}`,
    from: "a@x.test",
    to: ["other@y.test"],
    data: "x\r\n",
  });
  assert.equal(res.code, 2);
  await waiting;
  assert.equal(sink.errors.length, 1);
});
