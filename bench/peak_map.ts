/**
 * Where a node's peak memory goes: one fastmta node (a checkout, `deno run` as its start task
 * runs it) under `smtp-source` load, its Pss by kind of mapping (bench/smaps_kinds.ts) 5 s after
 * start and at the highest sample (every 0.3 s), CPU per message by thread, and with
 * `--poll metrics` the heap of each isolate (`fastmta_heap_used_bytes`; `/metrics` loads only the
 * probe app, as a Prometheus scrape does; `--poll none`, the default, touches no HTTP at all).
 * One JSON row per run, appended to --out. Run it once per checkout before measuring: the first
 * run of a checkout transpiles every file and its process keeps ~26 MB more (docs/performance.md).
 *
 *   deno run -A bench/peak_map.ts --repo /tmp/base --label base -n 10000 --poll metrics \
 *     --sink 127.42.0.3:2526 --smtp 127.42.0.4:2525 --admin 127.42.0.4:8026
 */
import { parseArgs } from "node:util";
import { smapsKinds } from "./smaps_kinds.ts";
import { SinkProcess } from "./sinks.ts";
import { SMTP_SOURCE } from "./postfix.ts";
import { threadCpu } from "./distributed.ts";
import { runFlagsOfStartTask } from "./fastmta.ts";
import { cleanup, run, sleep, smtpGreets, spawn, splitHostPort, waitFor } from "./util.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    repo: { type: "string", default: new URL("..", import.meta.url).pathname },
    label: { type: "string", default: "" },
    size: { type: "string", default: "5120" },
    sessions: { type: "string", default: "20" },
    n: { type: "string", short: "n", default: "10000" },
    sink: { type: "string", default: "127.42.0.3:2526" },
    smtp: { type: "string", default: "127.42.0.4:2525" },
    admin: { type: "string", default: "127.42.0.4:8026" },
    poll: { type: "string", default: "none" },
    // More config, JSON: `{"smtp":{"isolate":"main"}}`, `{"delivery":{"isolate":"worker"}}`.
    extra: { type: "string", default: "{}" },
    // Instead of the start task's run flags, e.g. `--flags=--v8-flags=--max-semi-space-size=2,…`.
    flags: { type: "string", default: "" },
    // List this many of the largest mappings at the peak.
    top: { type: "string", default: "0" },
    out: { type: "string", default: "/tmp/peak_map.jsonl" },
  },
});

const TOKEN = "peak-map-bench-token-0123456789";

function config(dir: string) {
  const sink = splitHostPort(String(args.sink));
  const extra = JSON.parse(String(args.extra));
  return {
    id: "bench",
    name: "bench",
    data_dir: `${dir}/data`,
    database: { driver: "sqlite3", connection: `${dir}/data/fastmta.db` },
    smtp: {
      listen: [String(args.smtp)],
      hostname: "mta.bench.local",
      max_message_size: 52428800,
      relay_networks: ["127.0.0.0/8"],
      ...(extra.smtp ?? {}),
    },
    admin: { listen: String(args.admin), api_tokens: [TOKEN] },
    routes: { "*": { host: sink.host, port: sink.port } },
    delivery: { retry_schedule: ["1s", "2s", "5s"], max_age: "1h", ...(extra.delivery ?? {}) },
  };
}

const MB = (kb: number) => +(kb / 1024).toFixed(1);
const kinds = (k: Record<string, number>) =>
  Object.fromEntries(Object.entries(k).sort().map(([n, v]) => [n, MB(v)]));

async function heaps(): Promise<Record<string, number>> {
  try {
    const text = await (await fetch(`http://${args.admin}/metrics`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    })).text();
    const out: Record<string, number> = {};
    for (const m of text.matchAll(/fastmta_heap_used_bytes\{thread="([^"]+)"\} (\S+)/g)) {
      out[m[1]] = +(Number(m[2]) / 1048576).toFixed(1);
    }
    return out;
  } catch {
    return {};
  }
}

const repo = String(args.repo);
const n = Number(args.n);
const dir = await Deno.makeTempDir({ prefix: "peak_map_" });
await Deno.mkdir(`${dir}/data`, { recursive: true });
const cfg = `${dir}/fastmta.json`;
await Deno.writeTextFile(cfg, JSON.stringify(config(dir), null, 2));
const sink = await SinkProcess.start("own", String(args.sink));
const proc = spawn("fastmta", "bash", [
  "-c",
  'exec "$0" run -A $4 "$1" serve --config "$2" >"$3" 2>&1',
  Deno.execPath(),
  `${repo}/main.ts`,
  cfg,
  `${dir}/fastmta.log`,
  String(args.flags || await runFlagsOfStartTask(repo)),
], { cwd: repo });
try {
  const up = await waitFor(
    async () => proc.status.exited || await smtpGreets(String(args.smtp), 1000),
    120_000,
    100,
  );
  if (!up || proc.status.exited) throw new Error(`fastmta did not start (${dir}/fastmta.log)`);
  await sleep(5000);
  const poll = args.poll === "metrics";
  const idle = smapsKinds(proc.pid)!;
  const idleHeaps = poll ? await heaps() : {};
  const before = threadCpu(proc.pid);
  let peak = idle;
  let peakHeaps: Record<string, number> = {};
  const maxHeaps: Record<string, number> = {};
  let loading = true;
  const sampler = (async () => {
    let i = 0;
    while (loading) {
      const now = smapsKinds(proc.pid, Number(args.top));
      if (now && now.total > peak.total) peak = now;
      if (poll && i++ % 3 === 0) {
        const h = await heaps();
        for (const [t, v] of Object.entries(h)) maxHeaps[t] = Math.max(maxHeaps[t] ?? 0, v);
        if (now === peak) peakHeaps = h;
      }
      await sleep(300);
    }
  })();
  const started = performance.now();
  const src = await run(SMTP_SOURCE, [
    ...["-s", String(args.sessions), "-m", String(n), "-l", String(args.size), "-r", "1"],
    ...["-M", "client.bench.local", "-f", "a@bench.local", "-t", "b@example.com"],
    String(args.smtp),
  ], { timeoutMs: 900_000 });
  if (src.code !== 0) throw new Error(`smtp-source: ${src.stderr}`);
  await waitFor(() => sink.counts.msgs >= n, 600_000, 50);
  const seconds = (performance.now() - started) / 1000;
  loading = false;
  await sampler;
  const after = threadCpu(proc.pid);
  const cpu: Record<string, number> = {};
  let total = 0;
  for (const k of Object.keys(after)) {
    if (!k.includes("CPU s")) continue;
    const d = after[k] - (before[k] ?? 0);
    total += d;
    cpu[k.replace(/^fastmta thread /, "").replace(/ CPU s$/, "")] = +(d * 1000 / n).toFixed(3);
  }
  const row = {
    label: args.label || repo,
    size: Number(args.size),
    n,
    perSec: Math.round(n / seconds),
    cpuMsPerMsg: +(total * 1000 / n).toFixed(3),
    cpu,
    idlePss: MB(idle.total),
    idle: kinds(idle.kb),
    peakPss: MB(peak.total),
    peak: kinds(peak.kb),
    idleHeaps,
    peakHeaps,
    maxHeaps,
    top: peak.top.map((t) => `${t.kind} ${t.start} ${t.sizeKb}K pss ${t.pssKb}K ${t.name}`),
    load: (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" "),
  };
  console.log(JSON.stringify(row));
  await Deno.writeTextFile(String(args.out), JSON.stringify(row) + "\n", { append: true });
} finally {
  await proc.stop(15_000);
  await sink.stop();
  await cleanup.runAll();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
