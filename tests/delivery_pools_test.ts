/**
 * Source IPs and pools in-process: the TCP connection binds the chosen source (the sink sees
 * 127.0.0.10 / 127.0.0.11 and their EHLO names), round-robin and weighted choice within a pool,
 * pool choice by header, sender domain and user, daily caps (IP warm-up) and switching IP after
 * a matching reply.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { startDnsServer } from "./helpers/dns_server.ts";
import { uniqueLoopbackIp } from "./helpers/net.ts";
import { startSmtpSink } from "./helpers/smtp_sink.ts";
import { startDeliveryEngine } from "./helpers/delivery_engine.ts";
import { waitUntil } from "./helpers/wait.ts";
import { choosePool } from "../core/routing/policy.ts";
import { parseConfig } from "../core/config/mod.ts";
import { DailyCounters, SourceSelector } from "../core/routing/sources.ts";

const LARGE_BODY = Array.from({ length: 800 }, (_, i) => `line ${i} ${"x".repeat(40)}`).join(
  "\r\n",
);
const LONG_HEADERS = Array.from({ length: 400 }, (_, i) => `X-Filler-${i}: ${"y".repeat(40)}`);

const SOURCES = [
  { ip: "127.0.0.10", hostname: "ten.vmta.test", group_id: "blue" },
  { ip: "127.0.0.11", hostname: "eleven.vmta.test", group_id: "green" },
];

async function site(domain: string) {
  const ip = uniqueLoopbackIp();
  const dns = await startDnsServer({
    zones: {
      [domain]: { MX: [{ preference: 10, exchange: `mx.${domain}` }] },
      [`mx.${domain}`]: { A: [ip] },
    },
  });
  return { ip, dns };
}

Deno.test("round-robin within a pool: the sink sees both source IPs and their EHLO names", async () => {
  const { ip, dns } = await site("rr.test");
  await using _dns = dns;
  await using sink = await startSmtpSink({ hostname: ip });
  await using engine = await startDeliveryEngine({
    ip_addressess: SOURCES,
    dns: { servers: [dns.address] },
    delivery: {
      remote_port: sink.port,
      pools: { both: { ips: ["127.0.0.10", "127.0.0.11"] } },
      default_pool: "both",
    },
  });
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) ids.push(await engine.send({ to: [`u${i}@rr.test`] }));
  for (const id of ids) await engine.waitForStates(id, ["delivered"]);
  const seen = sink.messages.map((m) => `${m.remoteAddress} ${m.helo}`).sort();
  assertEquals(seen, [
    "127.0.0.10 ten.vmta.test",
    "127.0.0.10 ten.vmta.test",
    "127.0.0.11 eleven.vmta.test",
    "127.0.0.11 eleven.vmta.test",
  ]);
  const sources = new Set<string | null>();
  for (const id of ids) for (const a of await engine.attempts(id)) sources.add(a.source_ip);
  assertEquals([...sources].sort(), ["127.0.0.10", "127.0.0.11"]);
});

Deno.test("pool choice by header, sender domain and user; control headers are not sent on", async () => {
  const { ip, dns } = await site("choice.test");
  await using _dns = dns;
  await using sink = await startSmtpSink({ hostname: ip });
  await using engine = await startDeliveryEngine({
    ip_addressess: SOURCES,
    dns: { servers: [dns.address] },
    delivery: {
      remote_port: sink.port,
      default_pool: "blue",
      pool_rules: [
        { user: "tenant-green", pool: "green" },
        { sender_domain: "*.greenmail.test", pool: "green" },
      ],
    },
  });
  const cases: [string, Parameters<typeof engine.send>[0], string][] = [
    ["default", { to: ["a@choice.test"] }, "127.0.0.10"],
    ["header", { to: ["b@choice.test"], headers: ["X-FastMTA-Pool: green"] }, "127.0.0.11"],
    ["group id", { to: ["c@choice.test"], headers: ["X-Group-Id: green"] }, "127.0.0.11"],
    ["unknown pool", { to: ["d@choice.test"], headers: ["X-FastMTA-Pool: nope"] }, "127.0.0.10"],
    ["sender", { from: "x@news.greenmail.test", to: ["e@choice.test"] }, "127.0.0.11"],
    // Larger than the head read before a connection (16 KB): the body is read whole later.
    [
      "header, large body",
      { to: ["g@choice.test"], headers: ["X-FastMTA-Pool: green"], body: LARGE_BODY },
      "127.0.0.11",
    ],
    // A header section longer than that head: read whole at once, header still found.
    [
      "header after long headers",
      { to: ["h@choice.test"], headers: [...LONG_HEADERS, "X-FastMTA-Pool: green"] },
      "127.0.0.11",
    ],
    ["user", { to: ["f@choice.test"], meta: { user: "tenant-green" } }, "127.0.0.11"],
  ];
  for (const [name, message, expected] of cases) {
    const id = await engine.send(message);
    await engine.waitForStates(id, ["delivered"]);
    const m = sink.messages.find((m) => m.rcptTo[0] === message.to[0]);
    assert(m, name);
    assertEquals(m.remoteAddress, expected, name);
    assert(!/^X-FastMTA-Pool|^X-Group-Id/im.test(m.text()), `${name}: control header removed`);
    if (message.body) assert(m.text().includes(message.body), `${name}: whole body delivered`);
    const [attempt] = await engine.attempts(id);
    assertEquals(attempt.pool, expected === "127.0.0.10" ? "blue" : "green", name);
  }
});

Deno.test("weighted choice within a pool (IP warm-up weights)", () => {
  const config = parseConfig({
    ip_addressess: [
      { ip: "127.0.0.10", hostname: "a", group_id: "p", weight: 3 },
      { ip: "127.0.0.11", hostname: "b", group_id: "p", weight: 1 },
    ],
  });
  const selector = new SourceSelector(config, new DailyCounters(2));
  const counts: Record<string, number> = {};
  for (let i = 0; i < 40; i++) {
    const s = selector.pick("p", () => 0);
    assert("ip" in s);
    counts[s.ip!] = (counts[s.ip!] ?? 0) + 1;
  }
  assertEquals(counts, { "127.0.0.10": 30, "127.0.0.11": 10 });
});

Deno.test("choosePool is deterministic and ordered: meta, header, rules, default", () => {
  const config = parseConfig({
    ip_addressess: SOURCES,
    delivery: { pool_rules: [{ sender_domain: "a.test", pool: "green" }] },
  });
  const known = (p: string) => p === "blue" || p === "green";
  const headers = new Map([["x-fastmta-pool", "blue"]]);
  assertEquals(
    choosePool(config, { sender: "x@a.test", pool: "green", headers }, known, "d"),
    "green",
  );
  assertEquals(choosePool(config, { sender: "x@a.test", headers }, known, "d"), "blue");
  assertEquals(choosePool(config, { sender: "x@a.test" }, known, "d"), "green");
  assertEquals(choosePool(config, { sender: "x@b.test" }, known, "d"), "d");
  const noHeaders = parseConfig({ ip_addressess: SOURCES, delivery: { pool_header: false } });
  assertEquals(choosePool(noHeaders, { sender: "x@b.test", headers }, known, "d"), "d");
});

Deno.test("a daily cap holds mail until the next day without using an attempt", async () => {
  const { ip, dns } = await site("cap.test");
  await using _dns = dns;
  await using sink = await startSmtpSink({ hostname: ip });
  await using engine = await startDeliveryEngine({
    ip_addressess: [{ ip: "127.0.0.10", hostname: "ten.vmta.test", daily_cap: 2 }],
    dns: { servers: [dns.address] },
    delivery: { remote_port: sink.port },
  });
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push(await engine.send({ to: [`u${i}@cap.test`] }));
  await sink.waitForMessages(2);
  const held = await waitUntil(async () => {
    for (const id of ids) {
      const unit = await engine.unit(id);
      if (unit.held === "local_limit") return unit;
    }
    return null;
  });
  assertEquals(held.attempts, 0);
  assertEquals(held.due_at, DailyCounters.nextDay(Date.now()));
  assertEquals(sink.messages.length, 2);
});

Deno.test("switch_ip: a matching refusal retries the message from another IP of the pool", async () => {
  const { ip, dns } = await site("switch.test");
  await using _dns = dns;
  await using sink = await startSmtpSink({
    hostname: ip,
    reply: ({ command, session }) =>
      command === "MAIL" && session.remoteAddress === "127.0.0.10"
        ? "421 4.7.0 [127.0.0.10] blocked, try another IP"
        : undefined,
  });
  await using engine = await startDeliveryEngine({
    ip_addressess: SOURCES.map((s) => ({ ...s, group_id: "both" })),
    dns: { servers: [dns.address] },
    delivery: {
      remote_port: sink.port,
      shaping: {
        "switch.test": { backoff: [{ match: "blocked", duration: "1h", action: "switch_ip" }] },
      },
    },
  });
  // The first message meets the refusal alone; the others follow once it is through.
  const ids = [await engine.send({ to: ["u0@switch.test"] })];
  await engine.waitForStates(ids[0], ["delivered"]);
  for (let i = 1; i < 4; i++) ids.push(await engine.send({ to: [`u${i}@switch.test`] }));
  for (const id of ids) await engine.waitForStates(id, ["delivered"]);
  assertEquals(new Set(sink.messages.map((m) => m.remoteAddress)), new Set(["127.0.0.11"]));
  // Once in backoff, 127.0.0.10 is not used for this site any more: one refusal in all.
  let tried = 0;
  for (const id of ids) {
    for (const a of await engine.attempts(id)) {
      if (a.outcome === "tried") {
        tried++;
        assertEquals(a.source_ip, "127.0.0.10");
      }
    }
  }
  assertEquals(tried, 1);
  assertEquals((await engine.unit(ids[0])).attempts, 1, "switching IP stays within one attempt");
});
