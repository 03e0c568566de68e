/**
 * Console render time at scale: a SQLite store with N messages (default 1 000 000: one unit and
 * one recipient each, 200-byte bodies, 20 pools, 10 000 of them delivered in the last hour so
 * the charts have data and 10 000 deferred from 10 vmtas), then each main page requested through the admin app in-process (`app.request`,
 * no network: the server's own time, from routing to the last byte of HTML) R times (default
 * 20); prints the median and the slowest per page, and the same for the two JSON documents
 * the dashboard's islands fetch once the page is shown.
 *
 *   deno run -A bench/console_render.ts [--messages N] [--runs R]
 */
import { parseArgs } from "node:util";
import { AdminAuth } from "../core/auth/admin.ts";
import { nodesOf } from "../core/cluster/mod.ts";
import { parseConfig } from "../core/config/mod.ts";
import type { NewMessage, UnitOutcome } from "../core/contracts/mod.ts";
import { newQueueId } from "../core/accept/queue_id.ts";
import { openManagement } from "../core/manage/mod.ts";
import { QueueService } from "../core/manage/queue_service.ts";
import { domainServices } from "../cli/serve_parts.ts";
import { openStore } from "../core/store/mod.ts";
import { adminApp } from "../routes/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    messages: { type: "string", default: "1000000" },
    runs: { type: "string", default: "20" },
  },
});
const total = Number(values.messages);
const runs = Number(values.runs);
const body = new TextEncoder().encode("Subject: bench\r\n\r\n" + "x".repeat(180) + "\r\n");
const dir = await Deno.makeTempDir({ prefix: "fastmta-console-bench-" });
const config = parseConfig({ data_dir: dir });
const store = await openStore(config, "admin");
await store.migrate();

const now = Date.now();
const started = performance.now();
const batch = 5_000;
let sampleId = "";
for (let i = 0; i < total; i += batch) {
  const n = Math.min(batch, total - i);
  const messages: NewMessage[] = Array.from({ length: n }, (_, k) => {
    // Spread over the last 10 days, oldest first; the last 10 000 within the hour.
    const at = now - Math.round(((total - (i + k)) / total) * 10 * 86_400_000);
    return {
      id: newQueueId(at),
      sender: `s${(i + k) % 1000}@senders.test`,
      recipients: [`r${i + k}@d${(i + k) % 5000}.test`],
      channel: "api",
      clientIp: null,
      receivedAt: at,
      meta: { pool: `pool${(i + k) % 20}` },
      body,
    };
  });
  sampleId = messages[0].id;
  await store.insertMessages(messages);
}
console.log(`inserted ${total} messages in ${((performance.now() - started) / 1000).toFixed(1)} s`);
// Deliver some recent units so the dashboard's series and the delivery log have rows.
const units = await store.leaseDue({
  owner: "bench",
  token: "bench",
  now: now + 864_000_000,
  leaseMs: 600_000,
  limit: 10_000,
});
const outcomes: UnitOutcome[] = units.map((u) => ({
  kind: "final",
  unitId: u.unitId,
  messageId: u.messageId,
  domain: u.domain,
  leaseToken: u.leaseToken,
  at: now - Math.floor(Math.random() * 3_000_000),
  durationMs: 20,
  sourceIp: "127.0.0.10",
  mxHost: "mx.bench.test",
  remoteIp: "127.0.0.20",
  tls: false,
  results: u.recipients.map((r) => ({
    address: r,
    outcome: "delivered" as const,
    code: 250,
    reply: "250 OK",
  })),
}));
for (let i = 0; i < outcomes.length; i += 1000) await store.settle(outcomes.slice(i, i + 1000));
// Defer 10 000 more from 10 vmtas, so the queue's vmta view has rows.
const deferred: UnitOutcome[] = (await store.leaseDue({
  owner: "bench",
  token: "bench-deferred",
  now: now + 864_000_000,
  leaseMs: 600_000,
  limit: 10_000,
})).map((u, k) => ({
  ...outcomes[0],
  kind: "deferred",
  retryAt: now + 3_600_000,
  reason: "remote",
  unitId: u.unitId,
  messageId: u.messageId,
  domain: u.domain,
  leaseToken: u.leaseToken,
  sourceIp: `127.0.1.${k % 10}`,
  results: u.recipients.map((r) => ({
    address: r,
    outcome: "deferred" as const,
    code: 451,
    reply: "451 later",
  })),
}));
for (let i = 0; i < deferred.length; i += 1000) await store.settle(deferred.slice(i, i + 1000));

const auth = new AdminAuth(store);
await auth.addUser("bench", "correct horse battery", "admin");
const token = (await auth.login("bench", "correct horse battery"))!;
const management = openManagement(store);
const app = adminApp({
  config,
  store,
  auth,
  startedAt: now,
  cluster: { nodes: () => nodesOf(store, config) },
  management,
  queueOps: new QueueService(store, config, () => {}),
  domainServices: domainServices(store, config),
});
if (Deno.env.get("BENCH_PARTS")) {
  for (
    const [name, f] of [
      ["counts", () => store.counts(Date.now())],
      ["activity", () => store.activitySince(Date.now() - 3_600_000, "0")],
      ["recentAttempts", () => store.recentAttempts({ limit: 20 })],
    ] as const
  ) {
    const t = performance.now();
    await (f as () => Promise<unknown>)();
    console.log(name, (performance.now() - t).toFixed(1), "ms");
  }
}
const pages = [
  "/",
  "/messages",
  `/messages/${sampleId}`,
  "/attempts",
  "/config",
  "/config/vmta",
  "/audit",
  "/queue",
  "/queue?by=pool",
  "/queue?by=vmta",
  `/messages?recipient=r${total - 1}%40d${(total - 1) % 5000}.test`,
  "/messages?domain=d42.test",
  "/domains",
  "/suppressions",
  // What the dashboard's islands fetch after the page (not part of its render).
  "/api/v1/queue",
  "/api/v1/activity",
  "/api/v1/queue/by/pool",
  "/api/v1/queue/by/vmta",
];
console.log(`page                         median     slowest  (${runs} runs, in-process)`);
for (const path of pages) {
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    const response = await app.request(path, { headers: { cookie: `fastmta_session=${token}` } });
    await response.text();
    times.push(performance.now() - t);
    if (response.status !== 200) throw new Error(`${path}: ${response.status}`);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  console.log(
    `${path.padEnd(28)} ${median.toFixed(1).padStart(7)} ms ${
      times[times.length - 1].toFixed(1).padStart(8)
    } ms`,
  );
}
await store.close();
if (Deno.env.get("BENCH_KEEP")) console.log(`kept ${dir}`);
else await Deno.remove(dir, { recursive: true });
