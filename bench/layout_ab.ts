/**
 * Layout A/B (issue 19 lever 4): one fastmta node per run, a given checkout and
 * `delivery.isolate`, under `smtp-source` load, measuring what the layout changes: PSS idle (5 s
 * after start) and at the peak, CPU by thread, and the admin API's latency under load
 * (`GET /api/v1/queue` and `GET /metrics` alternately every 100 ms while the load runs), plus the
 * main thread's worst event-loop lag as `/metrics` reported it (`--poll metrics`: `/metrics` only). Variants run interleaved, rep by
 * rep, so a busy machine's drift hits them alike.
 *
 *   deno run -A bench/layout_ab.ts --variants base:worker,here:main --sizes 5120,102400 \
 *     --reps 3 -n 4000 --sink 127.41.0.3:2526 --smtp 127.41.0.4:2525 --admin 127.41.0.4:8026
 *
 * A variant is `<checkout>:<isolate>`: `base` (/work/wt/base unless --base), `here` (this
 * checkout) or a path; the isolate `worker`, `main`, `smtp` or `default` (no key in the config).
 */
import { parseArgs } from "node:util";
import { SinkProcess } from "./sinks.ts";
import { SMTP_SOURCE } from "./postfix.ts";
import { threadCpu } from "./distributed.ts";
import { runFlagsOfStartTask } from "./fastmta.ts";
import { cleanup, median, run, sleep, smtpGreets, spawn, splitHostPort, waitFor } from "./util.ts";

const opt = (value: string) => ({ type: "string" as const, default: value });
const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    variants: opt("base:worker,here:main"),
    sizes: opt("5120"),
    reps: opt("3"),
    n: { type: "string", short: "n", default: "4000" },
    sink: opt("127.41.0.3:2526"),
    smtp: opt("127.41.0.4:2525"),
    admin: opt("127.41.0.4:8026"),
    base: opt("/work/wt/base"),
    out: opt("/tmp/layout_ab.jsonl"),
    // What the load's admin polls ask for, in turn: `metrics` alone is a node that is only scraped.
    poll: opt("queue,metrics"),
  },
});
const TOKEN = "layout-bench-token-0123456789";
const here = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

interface Variant {
  label: string;
  repo: string;
  isolate: string;
}

const variants: Variant[] = String(args.variants).split(",").map((v) => {
  const [where, isolate = "default"] = v.split(":");
  const repo = where === "base" ? String(args.base) : where === "here" ? here : where;
  return { label: v, repo, isolate };
});

function config(dir: string, v: Variant) {
  const sink = splitHostPort(String(args.sink));
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
    },
    admin: { listen: String(args.admin), api_tokens: [TOKEN] },
    routes: { "*": { host: sink.host, port: sink.port } },
    delivery: {
      retry_schedule: ["1s", "2s", "5s"],
      max_age: "1h",
      ...(v.isolate === "default" ? {} : { isolate: v.isolate }),
    },
  };
}

/** Pss and Anonymous (MB) of one process: Pss splits the binary's pages among every process that
 * maps them (other Deno processes on the machine), Anonymous is this process's own. */
function memory(pid: number): { pss: number; anon: number } {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
    const kb = (key: string) => Number(text.match(new RegExp(`^${key}:\\s+(\\d+)`, "m"))?.[1] ?? 0);
    return { pss: kb("Pss") / 1024, anon: kb("Anonymous") / 1024 };
  } catch {
    return { pss: 0, anon: 0 };
  }
}

const POLL_PATHS = { queue: "/api/v1/queue", metrics: "/metrics" };

/** Polls the admin API while `running()`; latencies by path, and the main thread's worst lag. */
async function pollAdmin(running: () => boolean) {
  const lat: Record<string, number[]> = { queue: [], metrics: [] };
  const polled = String(args.poll).split(",") as ("queue" | "metrics")[];
  let mainLag = 0;
  let turn = 0;
  const base = `http://${args.admin}`;
  while (running()) {
    const which = polled[turn++ % polled.length];
    const t0 = performance.now();
    try {
      const res = await fetch(`${base}${POLL_PATHS[which]}`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      const text = await res.text();
      if (res.ok) lat[which].push(performance.now() - t0);
      if (which === "metrics") {
        const m = text.match(/fastmta_event_loop_lag_seconds\{thread="main"\} ([0-9.e+-]+)/);
        if (m) mainLag = Math.max(mainLag, Number(m[1]) * 1000);
      }
    } catch { /* not up */ }
    await sleep(100);
  }
  return { lat, mainLag };
}

function pct(values: number[], p: number): number {
  const v = [...values].sort((a, b) => a - b);
  return v.length ? v[Math.min(v.length - 1, Math.floor(p * v.length))] : NaN;
}

function delta(after: Record<string, number>, before: Record<string, number>) {
  const out: Record<string, number> = {};
  for (const k of Object.keys(after)) {
    const name = k.replace(/^fastmta thread /, "").replace(/ CPU s$/, "");
    if (k.includes("CPU s")) out[name] = +(after[k] - (before[k] ?? 0)).toFixed(2);
  }
  return out;
}

async function oneRun(v: Variant, size: number, rep: number) {
  const n = Number(args.n);
  const dir = await Deno.makeTempDir({ prefix: "layout_ab_" });
  await Deno.mkdir(`${dir}/data`, { recursive: true });
  const cfg = `${dir}/fastmta.json`;
  await Deno.writeTextFile(cfg, JSON.stringify(config(dir, v), null, 2));
  const sink = await SinkProcess.start("own", String(args.sink));
  const proc = spawn("fastmta", "bash", [
    "-c",
    'exec "$0" run -A $4 "$1" serve --config "$2" >"$3" 2>&1',
    Deno.execPath(),
    `${v.repo}/main.ts`,
    cfg,
    `${dir}/fastmta.log`,
    await runFlagsOfStartTask(v.repo),
  ], { cwd: v.repo });
  try {
    const up = await waitFor(
      async () => proc.status.exited || await smtpGreets(String(args.smtp), 1000),
      120_000,
      100,
    );
    if (!up || proc.status.exited) throw new Error(`fastmta did not start (${dir}/fastmta.log)`);
    await sleep(5000);
    const idle = memory(proc.pid);
    // The first request loads the admin app (a one-off ~0.5 s on the main thread): not measured.
    for (const which of String(args.poll).split(",") as ("queue" | "metrics")[]) {
      const path = POLL_PATHS[which];
      await fetch(`http://${args.admin}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } })
        .then((res) => res.text());
    }
    const before = threadCpu(proc.pid);
    const peak = { pss: 0, anon: 0 };
    const sampler = setInterval(() => {
      const now = memory(proc.pid);
      peak.pss = Math.max(peak.pss, now.pss);
      peak.anon = Math.max(peak.anon, now.anon);
    }, 300);
    let loading = true;
    const poll = pollAdmin(() => loading);
    const started = performance.now();
    const src = await run(SMTP_SOURCE, [
      ...["-s", "20", "-m", String(n), "-l", String(size), "-r", "1"],
      ...["-M", "client.bench.local", "-f", "a@bench.local", "-t", "b@example.com"],
      String(args.smtp),
    ], { timeoutMs: 900_000 });
    if (src.code !== 0) throw new Error(`smtp-source: ${src.stderr}`);
    const delivered = await waitFor(() => sink.counts.msgs >= n, 600_000, 50);
    const seconds = (performance.now() - started) / 1000;
    loading = false;
    const { lat, mainLag } = await poll;
    clearInterval(sampler);
    const cpu = delta(threadCpu(proc.pid), before);
    const total = Object.values(cpu).reduce((a, b) => a + b, 0);
    const row = {
      variant: v.label,
      size,
      rep,
      delivered,
      perSec: Math.round(n / seconds),
      cpuMsPerMsg: +(total * 1000 / n).toFixed(3),
      cpu,
      idlePss: +idle.pss.toFixed(1),
      idleAnon: +idle.anon.toFixed(1),
      peakPss: +peak.pss.toFixed(1),
      peakAnon: +peak.anon.toFixed(1),
      queueP50: +pct(lat.queue, 0.5).toFixed(1),
      queueP90: +pct(lat.queue, 0.9).toFixed(1),
      metricsP50: +pct(lat.metrics, 0.5).toFixed(1),
      metricsP90: +pct(lat.metrics, 0.9).toFixed(1),
      polls: lat.queue.length + lat.metrics.length,
      mainLagMaxMs: Math.round(mainLag),
      load: (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" "),
    };
    console.log(JSON.stringify(row));
    await Deno.writeTextFile(String(args.out), JSON.stringify(row) + "\n", { append: true });
    return row;
  } finally {
    await proc.stop(15_000);
    await sink.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

const rows: Awaited<ReturnType<typeof oneRun>>[] = [];
try {
  for (let rep = 1; rep <= Number(args.reps); rep++) {
    for (const size of String(args.sizes).split(",").map(Number)) {
      for (const v of variants) rows.push(await oneRun(v, size, rep));
    }
  }
} finally {
  await cleanup.runAll();
}

console.log(
  "\nvariant | size | runs | delivered/s | CPU ms/msg | idle PSS | peak PSS | " +
    "idle anon | peak anon | queue p50/p90 | metrics p50/p90 | main lag max",
);
for (const size of String(args.sizes).split(",").map(Number)) {
  for (const v of variants) {
    const r = rows.filter((x) => x.variant === v.label && x.size === size);
    const m = (k: keyof typeof r[0]) => median(r.map((x) => Number(x[k])));
    console.log(
      `${v.label} | ${size} | ${r.length} | ${m("perSec")} | ${m("cpuMsPerMsg")} | ` +
        `${m("idlePss")} | ${m("peakPss")} | ${m("idleAnon")} | ${m("peakAnon")} | ${
          m("queueP50")
        }/${m("queueP90")} | ` +
        `${m("metricsP50")}/${m("metricsP90")} | ${m("mainLagMaxMs")}`,
    );
  }
}
