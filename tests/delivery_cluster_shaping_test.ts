/**
 * The cluster-wide shaping limits through the delivery pools: in memory (LocalShaper), and with a
 * shaper the test controls (holds as cluster_limit, lost slots closing their connections).
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { uniqueLoopbackIp } from "./helpers/net.ts";
import { startSmtpSink } from "./helpers/smtp_sink.ts";
import { startDeliveryEngine } from "./helpers/delivery_engine.ts";
import { waitUntil } from "./helpers/wait.ts";
import { type ClusterShaper, LocalShaper, type SiteSlot } from "../core/cluster/shaping.ts";
import { mxZone, sinkHoldingFirstUntil } from "./helpers/shaping.ts";

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
