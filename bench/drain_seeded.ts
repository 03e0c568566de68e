/**
 * A drain of a queue seeded straight into the store (issue 19: "a drain of 1 000 000 queued 5 KB
 * messages whose per-message cost is within 10 % of a 10 000-message drain, RSS flat while it
 * runs"). Filling a million through SMTP takes longer than a session on this machine, and only
 * the drain is under test: so the messages are inserted with the store's own `insertMessages`
 * (what accept commits: message, recipient and unit rows, the body in the database), then a
 * node is started as `deno task bench` starts it (same config, same V8 flags) with the counting
 * sink already up, and measured until the sink has every recipient: CPU of the process from its
 * first greeting on, peak RSS and PSS, and RSS at every tenth of the drain.
 *
 *   deno run -A bench/drain_seeded.ts --messages 1000000 [--size 5120]
 *     [--sink-addr 127.0.0.3:2526] [--fastmta-addr 127.0.0.4:2525] [--fastmta-admin 127.0.0.4:8026]
 */
import { parseArgs } from "node:util";
import { parseConfig } from "../core/config/mod.ts";
import type { NewMessage } from "../core/contracts/mod.ts";
import { newQueueId } from "../core/accept/queue_id.ts";
import { openStore } from "../core/store/mod.ts";
import { FastmtaServer } from "./fastmta.ts";
import { processTree, sampleTree, treeCpuSeconds, TreeSampler } from "./procstat.ts";
import { startSink } from "./sink.ts";
import { splitHostPort, waitFor } from "./util.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    messages: { type: "string", default: "1000000" },
    size: { type: "string", default: "5120" },
    "sink-addr": { type: "string", default: "127.0.0.3:2526" },
    "fastmta-addr": { type: "string", default: "127.0.0.4:2525" },
    "fastmta-admin": { type: "string", default: "127.0.0.4:8026" },
  },
});
const total = Number(values.messages);
const size = Number(values.size);
const repo = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const runDir = await Deno.makeTempDir({ prefix: "fastmta-drain-" });
const server = new FastmtaServer({
  repo,
  main: `${repo}/main.ts`,
  addr: values["fastmta-addr"]!,
  admin: values["fastmta-admin"]!,
  sinkAddr: values["sink-addr"]!,
  startTimeoutSec: 300,
});

/** A message of `size` body bytes in 76-character lines, as smtp-source writes them. */
function bodyOf(n: number): Uint8Array {
  const head = `From: a@bench.local\r\nTo: b@example.com\r\nSubject: drain ${n}\r\n\r\n`;
  const line = "x".repeat(76) + "\r\n";
  return new TextEncoder().encode(head + line.repeat(Math.ceil(size / line.length)));
}

async function seed(): Promise<number> {
  await Deno.mkdir(`${runDir}/data`, { recursive: true });
  const config = parseConfig(server.config(runDir) as Record<string, unknown>);
  const store = await openStore(config, "accept");
  await store.migrate();
  const body = bodyOf(0);
  const started = performance.now();
  const batch = 2_000;
  for (let i = 0; i < total; i += batch) {
    const n = Math.min(batch, total - i);
    const messages: NewMessage[] = Array.from({ length: n }, () => ({
      id: newQueueId(),
      sender: "a@bench.local",
      recipients: ["b@example.com"],
      channel: "smtp",
      clientIp: "127.0.0.1",
      receivedAt: Date.now(),
      meta: {},
      body,
    }));
    await store.insertMessages(messages);
  }
  await store.close();
  return (performance.now() - started) / 1000;
}

const seedSec = await seed();
console.log(`seeded ${total} × ${size} B in ${seedSec.toFixed(1)} s (${runDir})`);
const sinkAt = splitHostPort(values["sink-addr"]!);
let delivered = 0;
const sink = startSink(sinkAt.host, sinkAt.port, (c) => delivered = c.rcpts);
try {
  await server.start(runDir);
  const pid = server.rootPid();
  const cpu0 = treeCpuSeconds(processTree(pid));
  const t0 = performance.now();
  const sampler = new TreeSampler(pid, 500);
  const tenths: string[] = [];
  let next = 1;
  const ok = await waitFor(
    () => {
      while (delivered >= (total * next) / 10 && next <= 10) {
        const s = sampleTree(pid, false);
        tenths.push(`${next * 10}%: ${Math.round(s.rssKb / 1024)} MB`);
        next++;
      }
      return Promise.resolve(delivered >= total || !server.alive());
    },
    6 * 3600_000,
    200,
  );
  const sec = (performance.now() - t0) / 1000;
  const cpu = treeCpuSeconds(processTree(pid)) - cpu0;
  const peaks = sampler.peaks("run");
  sampler.stop();
  console.log(
    `drained ${delivered}/${total} in ${sec.toFixed(1)} s (${Math.round(delivered / sec)}/s), ` +
      `CPU ${cpu.toFixed(1)} s = ${(cpu * 1000 / Math.max(1, delivered)).toFixed(3)} ms/msg, ` +
      `peak RSS ${Math.round(peaks.rssKb / 1024)} MB, PSS ${Math.round(peaks.pssKb / 1024)} MB` +
      (ok ? "" : " (stopped early: the node exited or the wait ran out)"),
  );
  console.log(`RSS by tenth of the drain: ${tenths.join(", ")}`);
} finally {
  await server.stop();
  sink.close();
  await Deno.remove(runDir, { recursive: true }).catch(() => {});
}
