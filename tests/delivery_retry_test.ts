/**
 * Retries in-process: greylisting (451 then 250), a full mailbox (452 then 250), give-up age,
 * separate schedules for remote 4xx and connection failures, recipients of one message sharing
 * one transaction, and partial results per recipient.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { startDnsServer } from "./helpers/dns_server.ts";
import { uniqueLoopbackIp } from "./helpers/net.ts";
import { startSmtpSink } from "./helpers/smtp_sink.ts";
import { startDeliveryEngine } from "./helpers/delivery_engine.ts";

async function setup(domain: string) {
  const ip = uniqueLoopbackIp();
  const dns = await startDnsServer({
    zones: {
      [domain]: { MX: [{ preference: 10, exchange: `mx.${domain}` }] },
      [`mx.${domain}`]: { A: [ip] },
    },
  });
  return { ip, dns };
}

Deno.test("greylisting: 451 at RCPT, then delivered on the retry", async () => {
  const { ip, dns } = await setup("grey.test");
  await using _dns = dns;
  let greylisted = 0;
  await using sink = await startSmtpSink({
    hostname: ip,
    reply: ({ command }) => {
      if (command === "RCPT" && greylisted++ === 0) return "451 4.7.1 Greylisted, try again later";
    },
  });
  await using engine = await startDeliveryEngine({
    queue: { poll_interval: "50ms" },
    dns: { servers: [dns.address] },
    delivery: { remote_port: sink.port, retry_schedule: ["150ms"], connect_retry_schedule: ["1h"] },
  });
  const id = await engine.send({ to: ["u@grey.test"] });
  await engine.waitForStates(id, ["delivered"]);
  await sink.waitForMessages(1);
  const attempts = await engine.attempts(id);
  assertEquals(attempts.map((a) => [a.outcome, a.code, a.reason]), [
    ["deferred", 451, "remote"],
    ["delivered", 250, null],
  ]);
  assert(attempts[1].at - attempts[0].at >= 150, "waited for the remote-4xx schedule");
  assertEquals(attempts[1].node_id, engine.config.nodeId);
  assertEquals(attempts[1].mx_host, "mx.grey.test");
  assert(attempts[1].duration_ms >= 0);
  assertEquals((await engine.unit(id)).attempts, 2);
});

Deno.test("a full mailbox (452 after DATA) is retried and later delivered", async () => {
  const { ip, dns } = await setup("full.test");
  await using _dns = dns;
  await using sink = await startSmtpSink({
    hostname: ip,
    reply: ({ command, messageIndex }) => {
      if (command === "DATA_END" && messageIndex === 0) return "452 4.2.2 Mailbox full";
    },
  });
  await using engine = await startDeliveryEngine({
    queue: { poll_interval: "50ms" },
    dns: { servers: [dns.address] },
    delivery: { remote_port: sink.port, retry_schedule: ["100ms"] },
  });
  const id = await engine.send({ to: ["u@full.test"] });
  await engine.waitForStates(id, ["delivered"]);
  const attempts = await engine.attempts(id);
  assertEquals(attempts.map((a) => [a.outcome, a.code]), [["deferred", 452], ["delivered", 250]]);
  assertMatch(attempts[0].reply ?? "", /Mailbox full/);
});

Deno.test("per-recipient replies: one accepted, one refused, one deferred, in one transaction", async () => {
  const { ip, dns } = await setup("mixed.test");
  await using _dns = dns;
  await using sink = await startSmtpSink({
    hostname: ip,
    reply: ({ command, arg }) => {
      if (command === "RCPT" && arg.includes("bad@")) return "550 5.1.1 No such user";
      if (command === "RCPT" && arg.includes("later@")) return "450 4.2.1 Try later";
    },
  });
  await using engine = await startDeliveryEngine({
    queue: { poll_interval: "50ms" },
    dns: { servers: [dns.address] },
    delivery: { remote_port: sink.port, retry_schedule: ["1h"] },
  });
  const id = await engine.send({ to: ["good@mixed.test", "bad@mixed.test", "later@mixed.test"] });
  await engine.waitForStates(id, ["delivered", "failed", "deferred"]);
  const [message] = await sink.waitForMessages(1);
  assertEquals(message.rcptTo, ["good@mixed.test"]);
  assertEquals(await engine.states(id), {
    "good@mixed.test": "delivered",
    "bad@mixed.test": "failed",
    "later@mixed.test": "deferred",
  });
});

Deno.test("give-up age: a message deferred past max_age fails", async () => {
  const { ip, dns } = await setup("old.test");
  await using _dns = dns;
  await using sink = await startSmtpSink({
    hostname: ip,
    reply: ({ command }) => command === "MAIL" ? "421 4.3.2 System not accepting" : undefined,
  });
  await using engine = await startDeliveryEngine({
    queue: { poll_interval: "50ms" },
    dns: { servers: [dns.address] },
    delivery: { remote_port: sink.port, retry_schedule: ["100ms"], max_age: "350ms" },
  });
  const id = await engine.send({ to: ["u@old.test"] });
  await engine.waitForStates(id, ["failed"]);
  const attempts = await engine.attempts(id);
  assert(attempts.length >= 2);
  assertMatch(attempts.at(-1)!.reply ?? "", /giving up: message too old/);
  assertEquals(sink.messages.length, 0);
});

Deno.test("a connection failure uses the connect schedule, a remote 4xx the retry schedule", async () => {
  const down = uniqueLoopbackIp();
  const { ip, dns } = await setup("remote4xx.test");
  await using _dns = dns;
  dns.setRecords("down.test", { A: [down] });
  await using sink = await startSmtpSink({
    hostname: ip,
    reply: ({ command }) => command === "RCPT" ? "451 4.3.0 Later" : undefined,
  });
  await using engine = await startDeliveryEngine({
    queue: { poll_interval: "50ms" },
    dns: { servers: [dns.address] },
    delivery: {
      remote_port: sink.port,
      retry_schedule: ["10m"],
      connect_retry_schedule: ["3h"],
    },
  });
  const start = Date.now();
  const a = await engine.send({ to: ["u@remote4xx.test"] });
  const b = await engine.send({ to: ["u@down.test"] });
  await engine.waitForStates(a, ["deferred"]);
  await engine.waitForStates(b, ["deferred"]);
  const [ra] = await engine.attempts(a);
  const rb = (await engine.attempts(b)).filter((r) => r.outcome !== "tried");
  assertEquals(ra.reason, "remote");
  assertEquals(rb[0].reason, "connect");
  const dueA = (await engine.unit(a)).due_at - start;
  const dueB = (await engine.unit(b)).due_at - start;
  assert(dueA >= 10 * 60_000 && dueA < 60 * 60_000, `remote schedule: ${dueA}`);
  assert(dueB >= 3 * 3_600_000, `connect schedule: ${dueB}`);
});
