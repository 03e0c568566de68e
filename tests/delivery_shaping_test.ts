/**
 * Connections and shaping in-process: max connections per (source IP, site), messages per
 * connection with RSET between, two domains sharing an MX site sharing one limit (and one
 * connection), message rate holds that use no attempt, backoff patterns, pause and resume by
 * stored rules, scheduled send; the cluster-wide limits through the pools (in memory, and with a
 * shaper the test controls: holds, lost slots).
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { startDnsServer } from "./helpers/dns_server.ts";
import { uniqueLoopbackIp } from "./helpers/net.ts";
import { startSmtpSink } from "./helpers/smtp_sink.ts";
import { startDeliveryEngine } from "./helpers/delivery_engine.ts";
import { waitUntil } from "./helpers/wait.ts";
import { type ClusterShaper, LocalShaper, type SiteSlot } from "../core/cluster/shaping.ts";
import { checkStoredRules } from "../core/routing/rule_check.ts";
import { ShapingPolicy } from "../core/routing/policy.ts";
import { parseConfig } from "../core/config/mod.ts";

function slowly<T>(ms: number, value: T): Promise<T> {
  // A slow remote server (not a wait in the test): keeps connections busy for a moment.
  return new Promise((resolve) => setTimeout(() => resolve(value), ms));
}

async function mxZone(domains: string[], mxName: string, ip: string) {
  const zones: Record<string, { MX?: { preference: number; exchange: string }[]; A?: string[] }> = {
    [mxName]: { A: [ip] },
  };
  for (const d of domains) zones[d] = { MX: [{ preference: 10, exchange: mxName }] };
  return await startDnsServer({ zones });
}

/**
 * A sink that holds the first message until `connections` sessions are open at once (so a test
 * sees whether the limit lets that many open), then answers every message a little slowly.
 */
async function sinkHoldingFirstUntil(ip: string, connections: number) {
  // deno-lint-ignore prefer-const
  let sink: Awaited<ReturnType<typeof startSmtpSink>>;
  sink = await startSmtpSink({
    hostname: ip,
    reply: async ({ command, messageIndex }) => {
      if (command === "DATA_END" && messageIndex === 0) {
        await sink.waitFor(
          (s) => s.activeConnections >= connections,
          10_000,
          `${connections} connections`,
        );
      }
      if (command === "DATA_END") return await slowly(5, undefined);
    },
  });
  return sink;
}

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

/** A cluster shaper the test controls: slots counted in memory, sends granted up to `sends`. */
class TestShaper implements ClusterShaper {
  held = new Map<
    string,
    {
      slot: { site: string; slot: number; holder: string; lost: boolean };
      onLost?: (s: SiteSlot) => void;
    }
  >();
  acquired = 0;
  released = 0;
  sends = Infinity;
  retryAt = 0;
  asked: { site: string; limit: number; windowMs: number }[] = [];

  acquireConnection(site: string, limit: number, onLost?: (s: SiteSlot) => void) {
    if (this.held.size >= limit) return Promise.resolve(null);
    const slot = { site, slot: this.held.size, holder: `t/${++this.acquired}`, lost: false };
    this.held.set(slot.holder, { slot, onLost });
    return Promise.resolve(slot);
  }
  releaseConnection(slot: SiteSlot) {
    // Lost slots are given back too (the SQL shaper then deletes nothing).
    this.held.delete(slot.holder);
    this.released++;
    return Promise.resolve();
  }
  takeSends(site: string, n: number, rate: { limit: number; windowMs: number }) {
    this.asked.push({ site, ...rate });
    if (this.sends < n) return Promise.resolve({ ok: false as const, retryAt: this.retryAt });
    this.sends -= n;
    return Promise.resolve({ ok: true as const });
  }
  /** What the SQL shaper does when a renewal fails: every held slot is lost. */
  loseAll() {
    for (const { slot, onLost } of [...this.held.values()]) {
      this.held.delete(slot.holder);
      slot.lost = true;
      onLost?.(slot);
    }
  }
  close() {
    return Promise.resolve();
  }
}

Deno.test("a cluster connection limit counts every source IP of the site (one node: in memory)", async () => {
  const ip = uniqueLoopbackIp();
  await using dns = await mxZone(["clu.test"], "mx.clu.test", ip);
  await using sink = await sinkHoldingFirstUntil(ip, 2);
  const sources = [uniqueLoopbackIp(), uniqueLoopbackIp()];
  await using engine = await startDeliveryEngine({
    ip_addressess: sources.map((s, i) => ({ ip: s, hostname: `v${i}.test`, outbound: true })),
    dns: { servers: [dns.address] },
    delivery: {
      remote_port: sink.port,
      shaping: {
        "clu.test": { max_connections: 4, cluster_max_connections: 2, local_limit_delay: "200ms" },
      },
    },
  });
  const ids: string[] = [];
  for (let i = 0; i < 16; i++) ids.push(await engine.send({ to: [`u${i}@clu.test`] }));
  for (const id of ids) await engine.waitForStates(id, ["delivered"]);
  assertEquals(sink.messages.length, 16);
  // 4 per source IP would allow 8; the site as a whole gets 2.
  assertEquals(sink.maxConcurrentConnections, 2);
  for (const id of ids) {
    for (const a of await engine.attempts(id)) assertEquals(a.outcome, "delivered");
  }
});

Deno.test("a cluster message rate holds extra mail as cluster_limit without an attempt, spread out", async () => {
  const ip = uniqueLoopbackIp();
  await using dns = await mxZone(["crate.test"], "mx.crate.test", ip);
  await using sink = await startSmtpSink({ hostname: ip });
  const shaper = new TestShaper();
  shaper.sends = 2;
  shaper.retryAt = Date.now() + 3_600_000;
  await using engine = await startDeliveryEngine({
    dns: { servers: [dns.address] },
    delivery: {
      remote_port: sink.port,
      shaping: { "crate.test": { cluster_message_rate: "2/h" } },
    },
  }, { shaper });
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push(await engine.send({ to: [`u${i}@crate.test`] }));
  await sink.waitForMessages(2);
  const held = await waitUntil(async () => {
    const units = await Promise.all(ids.map((id) => engine.unit(id)));
    const waiting = units.filter((u) => u.held === "cluster_limit");
    return waiting.length === 3 ? waiting : null;
  });
  for (const unit of held) assertEquals(unit.attempts, 0, "a hold uses no attempt");
  assertEquals(shaper.asked[0], { site: "mx.crate.test", limit: 2, windowMs: 3_600_000 });
  // Due from the next window on, one send interval (30 min) apart.
  const due = held.map((u) => u.due_at).sort((a, b) => a - b);
  assert(due[0] >= shaper.retryAt, "not before the next window");
  assert(due[1] - due[0] >= 30 * 60_000 && due[2] - due[1] >= 30 * 60_000, String(due));
  assertEquals(sink.messages.length, 2);
});

Deno.test("a lost cluster slot closes its connection: idle at once, busy after the transaction", async () => {
  const ip = uniqueLoopbackIp();
  await using dns = await mxZone(["lost.test"], "mx.lost.test", ip);
  let dataSeen: () => void = () => {};
  let letGo: () => void = () => {};
  await using sink = await startSmtpSink({
    hostname: ip,
    reply: async ({ command, messageIndex }) => {
      if (command === "DATA_END" && messageIndex === 1) {
        const go = new Promise<void>((resolve) => letGo = resolve);
        dataSeen();
        await go;
      }
      return undefined;
    },
  });
  const shaper = new TestShaper();
  await using engine = await startDeliveryEngine({
    dns: { servers: [dns.address] },
    delivery: {
      remote_port: sink.port,
      shaping: { "lost.test": { cluster_max_connections: 1, idle_timeout: "1h" } },
    },
  }, { shaper });
  const first = await engine.send({ to: ["a@lost.test"] });
  await engine.waitForStates(first, ["delivered"]);
  assertEquals(shaper.held.size, 1, "the idle connection keeps its slot");
  // Lost while idle: closed at once, and the slot given back.
  shaper.loseAll();
  await sink.waitFor((s) => s.activeConnections === 0, 10_000, "idle connection closed");
  await waitUntil(() => shaper.released === 1);

  // Lost while busy: the transaction finishes, then the connection closes.
  const inData = new Promise<void>((resolve) => dataSeen = resolve);
  const second = await engine.send({ to: ["b@lost.test"] });
  await inData;
  assertEquals(shaper.held.size, 1);
  shaper.loseAll();
  letGo();
  await engine.waitForStates(second, ["delivered"]);
  await sink.waitFor((s) => s.activeConnections === 0, 10_000, "busy connection closed after use");
  await waitUntil(() => shaper.released === 2);

  const third = await engine.send({ to: ["c@lost.test"] });
  await engine.waitForStates(third, ["delivered"]);
  assertEquals(sink.connections, 3, "a new connection (and slot) after each loss");
  assertEquals(sink.maxConcurrentConnections, 1);
  assertEquals(shaper.acquired, 3);
});

Deno.test("LocalShaper: connection slots and send windows per site, in memory", async () => {
  const shaper = new LocalShaper();
  const a = await shaper.acquireConnection("s", 2);
  const b = await shaper.acquireConnection("s", 2);
  assert(a && b);
  assertEquals(await shaper.acquireConnection("s", 2), null);
  assert(await shaper.acquireConnection("other", 1), "another site has its own slots");
  await shaper.releaseConnection(a);
  await shaper.releaseConnection(a); // twice is harmless
  assert(await shaper.acquireConnection("s", 2));
  assertEquals(await shaper.acquireConnection("s", 2), null);
  const rate = { limit: 3, windowMs: 86_400_000 };
  // Retry the round if it straddled a window edge (once a day).
  for (let round = 0; round < 2; round++) {
    const day = Math.floor(Date.now() / rate.windowMs);
    const grants = [];
    for (let i = 0; i < 5; i++) grants.push(await shaper.takeSends(`r${round}`, 1, rate));
    if (Math.floor(Date.now() / rate.windowMs) !== day) continue;
    assertEquals(grants.map((g) => g.ok), [true, true, true, false, false]);
    assertEquals(grants[3], { ok: false, retryAt: (day + 1) * rate.windowMs });
    break;
  }
  await shaper.close();
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
