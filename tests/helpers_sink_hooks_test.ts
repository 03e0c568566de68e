/**
 * Tests for the SMTP sink's reply hooks, TLS, loopback source addresses and limits
 * (tests/helpers/smtp_sink.ts), driven by real clients (swaks, Python smtplib, a raw socket).
 */

import assert from "node:assert/strict";
import { uniqueLoopbackIp } from "./helpers/net.ts";
import { SINK_DISCONNECT, type SmtpSink, startSmtpSink } from "./helpers/smtp_sink.ts";
import { sendWithSmtplib, sendWithSwaks } from "./helpers/smtp_client.ts";
import { rawSmtp } from "./helpers/smtp_raw.ts";
import { generateSelfSignedCert } from "./helpers/tls_cert.ts";

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
