/**
 * Tests for the SMTP sink (tests/helpers/smtp_sink.ts): what it receives from real clients
 * (swaks, Python smtplib, a raw socket) and the SMTP protocol rules it enforces.
 */

import assert from "node:assert/strict";
import { startSmtpSink } from "./helpers/smtp_sink.ts";
import { rawSmtp } from "./helpers/smtp_raw.ts";
import { sendWithSmtplib, sendWithSwaks } from "./helpers/smtp_client.ts";

const encoder = new TextEncoder();

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
