/**
 * Tests for the net, wait and DNS test helpers in tests/helpers/, against real sockets and
 * Deno.resolveDns.
 */

import assert from "node:assert/strict";
import { freePort, tempDir, uniqueLoopbackIp, waitForPort } from "./helpers/net.ts";
import { delay, waitUntil, withTimeout } from "./helpers/wait.ts";
import { queryDns, startDnsServer } from "./helpers/dns_server.ts";

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
