/**
 * Connections and shaping in-process: max connections per (source IP, site), messages per
 * connection with RSET between, two domains sharing an MX site sharing one limit (and one
 * connection), message rate holds that use no attempt, backoff patterns, pause and resume by
 * stored rules, scheduled send, stored rules checked before delivery. The cluster-wide limits are
 * in delivery_cluster_shaping_test.ts.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { uniqueLoopbackIp } from "./helpers/net.ts";
import { startSmtpSink } from "./helpers/smtp_sink.ts";
import { startDeliveryEngine } from "./helpers/delivery_engine.ts";
import { waitUntil } from "./helpers/wait.ts";
import { checkStoredRules } from "../core/routing/rule_check.ts";
import { ShapingPolicy } from "../core/routing/policy.ts";
import { parseConfig } from "../core/config/mod.ts";
import { mxZone, sinkHoldingFirstUntil, slowly } from "./helpers/shaping.ts";

Deno.test("max connections per site is honoured and connections are reused", async () => {
  const ip = uniqueLoopbackIp();
  await using dns = await mxZone(["conn.test"], "mx.conn.test", ip);
  await using sink = await sinkHoldingFirstUntil(ip, 2);
  await using engine = await startDeliveryEngine({
    dns: { servers: [dns.address] },
    delivery: { remote_port: sink.port, shaping: { "conn.test": { max_connections: 2 } } },
  });
  const ids: string[] = [];
  for (let i = 0; i < 12; i++) ids.push(await engine.send({ to: [`u${i}@conn.test`] }));
  for (const id of ids) await engine.waitForStates(id, ["delivered"]);
  assertEquals(sink.messages.length, 12);
  assertEquals(sink.maxConcurrentConnections, 2);
  assertEquals(sink.connections, 2, "both connections carried every message");
});

Deno.test("max messages per connection: a new connection after N, RSET-free reuse before", async () => {
  const ip = uniqueLoopbackIp();
  await using dns = await mxZone(["mpc.test"], "mx.mpc.test", ip);
  const commands: string[] = [];
  await using sink = await startSmtpSink({
    hostname: ip,
    reply: ({ command }) => {
      commands.push(command);
      return undefined;
    },
  });
  await using engine = await startDeliveryEngine({
    dns: { servers: [dns.address] },
    delivery: {
      remote_port: sink.port,
      shaping: { "*": { max_connections: 1, max_messages_per_connection: 3 } },
    },
  });
  const ids: string[] = [];
  for (let i = 0; i < 7; i++) ids.push(await engine.send({ to: [`u${i}@mpc.test`] }));
  for (const id of ids) await engine.waitForStates(id, ["delivered"]);
  const perSession = new Map<number, number>();
  for (const m of sink.messages) {
    perSession.set(m.sessionId, (perSession.get(m.sessionId) ?? 0) + 1);
  }
  assertEquals([...perSession.values()].sort(), [1, 3, 3]);
  assertEquals(sink.maxConcurrentConnections, 1);
  assertEquals(commands.filter((c) => c === "EHLO").length, 3);
});

Deno.test("a failed transaction is followed by RSET before the next on the same connection", async () => {
  const ip = uniqueLoopbackIp();
  await using dns = await mxZone(["rset.test"], "mx.rset.test", ip);
  const commands: string[] = [];
  await using sink = await startSmtpSink({
    hostname: ip,
    reply: ({ command, arg }) => {
      commands.push(command);
      if (command === "RCPT" && arg.includes("nobody@")) return "550 5.1.1 No such user";
    },
  });
  await using engine = await startDeliveryEngine({
    dns: { servers: [dns.address] },
    delivery: { remote_port: sink.port, shaping: { "*": { max_connections: 1 } } },
  });
  const a = await engine.send({ to: ["nobody@rset.test"] });
  await engine.waitForStates(a, ["failed"]);
  const b = await engine.send({ to: ["somebody@rset.test"] });
  await engine.waitForStates(b, ["delivered"]);
  assertEquals(sink.connections, 1);
  const afterFirst = commands.slice(commands.indexOf("RCPT") + 1);
  assertEquals(afterFirst.slice(0, 3), ["DATA", "RSET", "MAIL"]);
});

Deno.test("two domains whose MX hosts are the same share one site limit", async () => {
  const ip = uniqueLoopbackIp();
  await using dns = await mxZone(["one.test", "two.test"], "mx.shared.test", ip);
  await using sink = await startSmtpSink({
    hostname: ip,
    reply: ({ command }) => command === "DATA_END" ? slowly(10, undefined) : undefined,
  });
  await using engine = await startDeliveryEngine({
    dns: { servers: [dns.address] },
    delivery: { remote_port: sink.port, shaping: { "*": { max_connections: 1 } } },
  });
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) {
    ids.push(await engine.send({ to: [`a${i}@one.test`] }));
    ids.push(await engine.send({ to: [`b${i}@two.test`] }));
  }
  for (const id of ids) await engine.waitForStates(id, ["delivered"]);
  assertEquals(sink.maxConcurrentConnections, 1);
  assertEquals(sink.connections, 1, "one connection carried both domains' mail");
  const sites = new Set<string | null>();
  for (const id of ids) for (const a of await engine.attempts(id)) sites.add(a.site);
  assertEquals([...sites], ["mx.shared.test"]);
});

Deno.test("a message rate holds extra mail back without using an attempt, spread out", async () => {
  const ip = uniqueLoopbackIp();
  await using dns = await mxZone(["rate.test"], "mx.rate.test", ip);
  await using sink = await startSmtpSink({ hostname: ip });
  await using engine = await startDeliveryEngine({
    dns: { servers: [dns.address] },
    delivery: {
      remote_port: sink.port,
      shaping: { "rate.test": { message_rate: "2/h" } },
    },
  });
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push(await engine.send({ to: [`u${i}@rate.test`] }));
  await sink.waitForMessages(2);
  const held = await waitUntil(async () => {
    const units = await Promise.all(ids.map((id) => engine.unit(id)));
    const waiting = units.filter((u) => u.held === "local_limit");
    return waiting.length === 3 ? waiting : null;
  });
  for (const unit of held) assertEquals(unit.attempts, 0, "a hold uses no attempt");
  for (const id of ids) {
    for (const a of await engine.attempts(id)) {
      assertEquals(a.outcome, "delivered", "holds log none");
    }
  }
  // Due one token interval (30 min) apart, the first when the bucket has a token again.
  const due = held.map((u) => u.due_at).sort((a, b) => a - b);
  assert(due[0] > Date.now() + 20 * 60_000, "due when the bucket has a token");
  assert(due[1] - due[0] >= 30 * 60_000 && due[2] - due[1] >= 30 * 60_000, String(due));
  assertEquals(sink.messages.length, 2);
});

Deno.test("a backoff pattern pauses the (source, site) and mail resumes after it", async () => {
  const ip = uniqueLoopbackIp();
  await using dns = await mxZone(["busy.test"], "mx.busy.test", ip);
  let limited = true;
  let backoffStarted = 0;
  await using sink = await startSmtpSink({
    hostname: ip,
    reply: ({ command }) => {
      if (command === "MAIL" && limited) {
        limited = false;
        backoffStarted = Date.now();
        return "421 4.7.28 Our system has detected an unusual rate of mail, rate limited";
      }
    },
  });
  await using engine = await startDeliveryEngine({
    queue: { poll_interval: "50ms" },
    dns: { servers: [dns.address] },
    delivery: {
      remote_port: sink.port,
      retry_schedule: ["100ms"],
      shaping: {
        "mx:*.busy.test": { backoff: [{ match: "unusual rate|rate limited", duration: "1s" }] },
      },
    },
  });
  const first = await engine.send({ to: ["a@busy.test"] });
  await engine.waitForStates(first, ["deferred"]);
  const second = await engine.send({ to: ["b@busy.test"] });
  await waitUntil(async () => (await engine.unit(second)).held === "backoff");
  assertEquals((await engine.unit(second)).attempts, 0);
  await engine.waitForStates(first, ["delivered"]);
  await engine.waitForStates(second, ["delivered"]);
  for (const m of sink.messages) {
    assert(m.receivedAt >= backoffStarted + 1_000, "nothing went out during the backoff");
  }
  const [deferred] = await engine.attempts(first);
  assertMatch(deferred.reply ?? "", /rate limited/);
});

Deno.test("pause and resume a destination through stored rules", async () => {
  const ip = uniqueLoopbackIp();
  await using dns = await mxZone(["paused.test"], "mx.paused.test", ip);
  await using sink = await startSmtpSink({ hostname: ip });
  await using engine = await startDeliveryEngine({
    dns: { servers: [dns.address] },
    delivery: { remote_port: sink.port, pause_recheck: "1h" },
  });
  await engine.putRule("paused.test", { paused: true });
  const id = await engine.send({ to: ["u@paused.test"] });
  await waitUntil(async () => (await engine.unit(id)).held === "paused");
  assertEquals(sink.messages.length, 0);
  assertEquals((await engine.unit(id)).attempts, 0);
  // Resuming makes held units due at once (not after the 1h recheck).
  await engine.putRule("paused.test", { paused: false });
  await engine.waitForStates(id, ["delivered"]);
  assertEquals(sink.messages.length, 1);
});

Deno.test("pause and resume a pool", async () => {
  const ip = uniqueLoopbackIp();
  await using dns = await mxZone(["poolpause.test"], "mx.poolpause.test", ip);
  await using sink = await startSmtpSink({ hostname: ip });
  await using engine = await startDeliveryEngine({
    ip_addressess: [
      { ip: "127.0.0.10", hostname: "blue.vmta.test", group_id: "blue" },
      { ip: "127.0.0.11", hostname: "green.vmta.test", group_id: "green" },
    ],
    dns: { servers: [dns.address] },
    delivery: { remote_port: sink.port, pause_recheck: "1h", default_pool: "blue" },
  });
  await engine.putRule("pool:green", { paused: true });
  const green = await engine.send({ to: ["g@poolpause.test"], headers: ["X-FastMTA-Pool: green"] });
  const blue = await engine.send({ to: ["b@poolpause.test"] });
  await engine.waitForStates(blue, ["delivered"]);
  await waitUntil(async () => (await engine.unit(green)).held === "paused");
  await engine.deleteRule("pool:green");
  await engine.waitForStates(green, ["delivered"]);
  const [, second] = await sink.waitForMessages(2);
  assertEquals(second.remoteAddress, "127.0.0.11");
});

Deno.test("scheduled send: not delivered before X-FastMTA-Deliver-At, and the header is removed", async () => {
  const ip = uniqueLoopbackIp();
  await using dns = await mxZone(["later.test"], "mx.later.test", ip);
  await using sink = await startSmtpSink({ hostname: ip });
  await using engine = await startDeliveryEngine({
    queue: { poll_interval: "50ms" },
    dns: { servers: [dns.address] },
    delivery: { remote_port: sink.port },
  });
  const at = Date.now() + 800;
  const id = await engine.send({
    to: ["u@later.test"],
    headers: [`X-FastMTA-Deliver-At: ${new Date(at).toISOString()}`],
  });
  await waitUntil(async () => (await engine.unit(id)).held === "scheduled");
  await engine.waitForStates(id, ["delivered"]);
  const [message] = await sink.waitForMessages(1);
  assert(message.receivedAt >= at, "not before the scheduled time");
  assert(!/X-FastMTA-Deliver-At/i.test(message.text()), "control header removed");
  assertMatch(message.text(), /^Subject: test /m);
});

Deno.test("a held unit still records recipients screened out before the hold", async () => {
  const ip = uniqueLoopbackIp();
  await using dns = await mxZone(["screened.test"], "mx.screened.test", ip);
  await using sink = await startSmtpSink({ hostname: ip });
  await using engine = await startDeliveryEngine({
    dns: { servers: [dns.address] },
    delivery: { remote_port: sink.port, pause_recheck: "1h" },
  }, {
    // What the bounce stage's suppression screen does: split off a recipient as final.
    screen: (unit) =>
      Promise.resolve({
        unit: { ...unit, recipients: unit.recipients.filter((r) => !r.startsWith("gone@")) },
        results: unit.recipients.filter((r) => r.startsWith("gone@")).map((address) => ({
          address,
          outcome: "suppressed" as const,
          code: null,
          reply: "suppressed",
        })),
      }),
  });
  await engine.putRule("screened.test", { paused: true });
  const id = await engine.send({ to: ["gone@screened.test", "here@screened.test"] });
  await waitUntil(async () => (await engine.unit(id)).held === "paused");
  await waitUntil(async () => (await engine.states(id))["gone@screened.test"] === "suppressed");
  assertEquals((await engine.states(id))["here@screened.test"], "queued");
  await engine.putRule("screened.test", { paused: false });
  await engine.waitForStates(id, ["delivered", "suppressed"]);
  const [message] = await sink.waitForMessages(1);
  assertEquals(message.rcptTo, ["here@screened.test"]);
});

Deno.test("stored rules are checked before they reach delivery: bad ones are named and skipped", () => {
  const { rules, problems } = checkStoredRules([
    { pattern: "good.test", rule: { max_connections: 3, message_rate: "10/m" } },
    { pattern: "bad.test", rule: { max_connections: -1 } },
    { pattern: "", rule: {} },
  ]);
  assertEquals(rules.map((r) => r.pattern), ["good.test"]);
  assertEquals(problems.length, 2);
  assertMatch(problems[0], /^bad\.test: max_connections /);
  const policy = new ShapingPolicy(parseConfig({}), rules);
  assertEquals(policy.forDestination("good.test").maxConnections, 3);
});
