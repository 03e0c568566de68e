/**
 * Destination resolution end to end, in-process: MX order with the first host down, implicit MX
 * (A fallback), null MX and NXDOMAIN failing without retry, and a route to a smarthost.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { startDnsServer } from "./helpers/dns_server.ts";
import { uniqueLoopbackIp } from "./helpers/net.ts";
import { startSmtpSink } from "./helpers/smtp_sink.ts";
import { startDeliveryEngine } from "./helpers/delivery_engine.ts";

const FAST = {
  queue: { poll_interval: "50ms" },
  delivery: { retry_schedule: ["100ms"], connect_retry_schedule: ["100ms"], idle_timeout: "200ms" },
};

Deno.test("MX hosts are tried by preference; the first one down is skipped", async () => {
  const down = uniqueLoopbackIp();
  const up = uniqueLoopbackIp();
  await using sink = await startSmtpSink({ hostname: up });
  await using dns = await startDnsServer({
    zones: {
      "mx-order.test": {
        MX: [{ preference: 20, exchange: "mx2.mx-order.test" }, {
          preference: 10,
          exchange: "mx1.mx-order.test",
        }],
      },
      "mx1.mx-order.test": { A: [down] },
      "mx2.mx-order.test": { A: [up] },
    },
  });
  await using engine = await startDeliveryEngine({
    ...FAST,
    dns: { servers: [dns.address] },
    delivery: { ...FAST.delivery, remote_port: sink.port },
  });
  const id = await engine.send({ to: ["a@mx-order.test", "b@mx-order.test"] });
  await engine.waitForStates(id, ["delivered"]);
  const [message] = await sink.waitForMessages(1);
  assertEquals(message.rcptTo, ["a@mx-order.test", "b@mx-order.test"]);
  const attempts = await engine.attempts(id);
  const tried = attempts.filter((a) => a.outcome === "tried");
  assertEquals(tried.length, 1);
  assertEquals(tried[0].mx_host, "mx1.mx-order.test");
  assertEquals(tried[0].remote_ip, down);
  const delivered = attempts.filter((a) => a.outcome === "delivered");
  assertEquals(delivered.map((a) => a.mx_host), ["mx2.mx-order.test", "mx2.mx-order.test"]);
  assertEquals(delivered[0].site, "mx1.mx-order.test,mx2.mx-order.test");
  assertEquals(delivered[0].code, 250);
});

Deno.test("a domain without MX gets its mail at its A address", async () => {
  const ip = uniqueLoopbackIp();
  await using sink = await startSmtpSink({ hostname: ip });
  await using dns = await startDnsServer({ zones: { "no-mx.test": { A: [ip] } } });
  await using engine = await startDeliveryEngine({
    ...FAST,
    dns: { servers: [dns.address] },
    delivery: { ...FAST.delivery, remote_port: sink.port },
  });
  const id = await engine.send({ to: ["x@no-mx.test"] });
  await engine.waitForStates(id, ["delivered"]);
  await sink.waitForMessages(1);
  const [attempt] = await engine.attempts(id);
  assertEquals(attempt.mx_host, "no-mx.test");
  assertEquals(attempt.remote_ip, ip);
});

Deno.test("null MX and NXDOMAIN fail at once, without a retry", async () => {
  await using dns = await startDnsServer({
    zones: {
      "null-mx.test": { MX: [{ preference: 0, exchange: "." }], A: ["127.0.0.1"] },
      "exists.test": { A: [] },
    },
  });
  await using engine = await startDeliveryEngine({
    ...FAST,
    dns: { servers: [dns.address] },
  });
  const nullMx = await engine.send({ to: ["a@null-mx.test"] });
  const nx = await engine.send({ to: ["b@nxdomain.test"] });
  const nothing = await engine.send({ to: ["c@exists.test"] });
  for (const id of [nullMx, nx, nothing]) await engine.waitForStates(id, ["failed"]);
  const [a] = await engine.attempts(nullMx);
  assertMatch(a.reply ?? "", /null MX/);
  const [b] = await engine.attempts(nx);
  assertMatch(b.reply ?? "", /not found \(NXDOMAIN\)/);
  const [c] = await engine.attempts(nothing);
  assertMatch(c.reply ?? "", /no MX and no address/);
  for (const id of [nullMx, nx, nothing]) {
    assertEquals((await engine.attempts(id)).length, 1, "one attempt, no retry");
    assertEquals((await engine.unit(id)).attempts, 1);
  }
});

Deno.test("MX hosts without address defer (DNS reason) until they get one", async () => {
  const ip = uniqueLoopbackIp();
  await using sink = await startSmtpSink({ hostname: ip });
  await using dns = await startDnsServer({ zones: {} });
  await using engine = await startDeliveryEngine({
    ...FAST,
    dns: { servers: [dns.address], timeout: "300ms", negative_ttl: "50ms" },
    delivery: { ...FAST.delivery, remote_port: sink.port },
  });
  dns.setRecords("later.test", { MX: [{ preference: 10, exchange: "mx.later.test" }] });
  const id = await engine.send({ to: ["x@later.test"] });
  await engine.waitForStates(id, ["deferred"]);
  const [first] = await engine.attempts(id);
  assertEquals(first.reason, "dns");
  dns.setRecords("mx.later.test", { A: [ip] });
  await engine.waitForStates(id, ["delivered"]);
  assert((await engine.unit(id)).attempts >= 2);
});

Deno.test("a resolver that does not answer defers with the DNS reason", async () => {
  await using engine = await startDeliveryEngine({
    ...FAST,
    dns: { servers: ["127.0.0.1:9"], timeout: "200ms" },
    delivery: { ...FAST.delivery, connect_retry_schedule: ["1h"] },
  });
  const id = await engine.send({ to: ["x@dead-resolver.test"] });
  await engine.waitForStates(id, ["deferred"]);
  const [attempt] = await engine.attempts(id);
  assertEquals(attempt.reason, "dns");
  assertMatch(attempt.reply ?? "", /DNS lookup for dead-resolver\.test failed/);
  const unit = await engine.unit(id);
  assert(unit.due_at > Date.now() + 30 * 60_000, "connect/DNS schedule used");
});

Deno.test("a route sends a domain's mail to a smarthost, with AUTH", async () => {
  const ip = uniqueLoopbackIp();
  const auths: string[] = [];
  await using sink = await startSmtpSink({
    hostname: ip,
    extensions: ["PIPELINING", "AUTH PLAIN LOGIN", "8BITMIME"],
    reply: ({ command, arg }) => {
      if (command === "AUTH") {
        auths.push(arg);
        return "235 2.7.0 Authentication successful";
      }
    },
  });
  await using engine = await startDeliveryEngine({
    ...FAST,
    // No DNS at all: the route's host is an address.
    dns: { servers: ["127.0.0.1:9"] },
    routes: {
      "routed.test": { host: ip, port: sink.port, auth: { username: "relay", password: "s3cret" } },
    },
  });
  const id = await engine.send({ to: ["x@routed.test"] });
  await engine.waitForStates(id, ["delivered"]);
  const [message] = await sink.waitForMessages(1);
  assertEquals(message.rcptTo, ["x@routed.test"]);
  assertEquals(auths.length, 1);
  const decoded = atob(auths[0].replace(/^PLAIN /, ""));
  assertEquals(decoded, "\u0000relay\u0000s3cret");
  const [attempt] = await engine.attempts(id);
  assertEquals(attempt.site, `route:${ip}:${sink.port}`);
});
