/**
 * Aggregation (medians over repetitions), the result tables (Markdown, printed and appended to
 * bench/RESULTS.md) and the machine description.
 */
import type { RunResult, Scenario } from "./scenarios.ts";
import { median, run } from "./util.ts";

/** Machine and software description for the report header. */
export interface MachineInfo {
  /** ISO date of the run. */
  date: string;
  /** `nproc`. */
  nproc: string;
  /** MemTotal in GiB. */
  memory: string;
  /** `uname -srm`. */
  kernel: string;
  /** CPU model name. */
  cpu: string;
  /** Deno version. */
  deno: string;
  /** 1/5/15-minute load average at start (other work on the box skews results). */
  loadavg: string;
}

/** Collects {@link MachineInfo}. */
export async function machineInfo(): Promise<MachineInfo> {
  const text = (p: string) => {
    try {
      return Deno.readTextFileSync(p);
    } catch {
      return "";
    }
  };
  const mem = /MemTotal:\s+(\d+)/.exec(text("/proc/meminfo"));
  const cpu = /model name\s*:\s*(.+)/.exec(text("/proc/cpuinfo"));
  const nproc = await run("nproc", []).then((r) => r.stdout.trim()).catch(() => "?");
  const kernel = await run("uname", ["-srm"]).then((r) => r.stdout.trim()).catch(() =>
    Deno.osRelease()
  );
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    nproc,
    memory: mem ? `${(Number(mem[1]) / 1024 / 1024).toFixed(1)} GiB` : "?",
    kernel,
    cpu: cpu ? cpu[1].trim() : "?",
    deno: Deno.version.deno,
    loadavg: Deno.loadavg().map((x) => x.toFixed(2)).join(" "),
  };
}

/** Medians of one system in one scenario. */
export interface Summary {
  /** Scenario id. */
  scenario: string;
  /** System name. */
  system: string;
  /** Successful runs. */
  ok: number;
  /** All runs. */
  runs: number;
  /** Median of each numeric metric over the successful runs. */
  m: Record<string, number>;
}

const METRICS: Record<string, (r: RunResult) => number | undefined> = {
  acceptedPerSec: (r) => r.acceptedPerSec,
  deliveredPerSec: (r) => r.deliveredPerSec,
  p50: (r) => r.latency?.p50,
  p99: (r) => r.latency?.p99,
  clientPerSec: (r) => r.latency?.acceptedPerSec,
  cpuSec: (r) => r.cpuSec,
  cpuMsPerMsg: (r) => r.cpuSec === undefined ? undefined : (r.cpuSec * 1000) / r.messages,
  rssMb: (r) => r.peakRssMb,
  pssMb: (r) => r.peakPssMb,
  procs: (r) => r.procs,
  acceptSec: (r) => r.drain?.acceptSec,
  drainSec: (r) => r.drain?.drainSec,
  drainedPerSec: (r) => r.drain?.drainedPerSec,
  rssAcceptMb: (r) => r.drain?.rssAcceptMb,
  rssDrainMb: (r) => r.drain?.rssDrainMb,
  pssAcceptMb: (r) => r.drain?.pssAcceptMb,
  pssDrainMb: (r) => r.drain?.pssDrainMb,
  cpuAcceptSec: (r) => r.drain?.cpuAcceptSec,
  cpuDrainSec: (r) => r.drain?.cpuDrainSec,
};

/** Groups results by scenario and system (in first-seen order) and takes medians. */
export function summarize(results: RunResult[]): Summary[] {
  const groups = new Map<string, RunResult[]>();
  for (const r of results) {
    const key = `${r.scenario}\u0000${r.system}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const out: Summary[] = [];
  for (const list of groups.values()) {
    const good = list.filter((r) => !r.error);
    const m: Record<string, number> = {};
    for (const [name, get] of Object.entries(METRICS)) {
      m[name] = median(good.map((r) => get(r) ?? NaN));
    }
    out.push({
      scenario: list[0].scenario,
      system: list[0].system,
      ok: good.length,
      runs: list.length,
      m,
    });
  }
  return out;
}

function fmt(x: number, digits = 0): string {
  if (!Number.isFinite(x)) return "–";
  if (digits === 0 && Math.abs(x) >= 1000) {
    return Math.round(x).toString().replace(/\B(?=(\d{3})+(?!\d))/g, " ");
  }
  return x.toFixed(digits);
}

function ratio(a: number, b: number): string {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${(a / b).toFixed(2)}×` : "–";
}

const SYSTEM_LABEL: Record<string, string> = {
  fastmta: "fastmta",
  "fastmta-noevents": "fastmta, events off",
  "fastmta-main": "fastmta, delivery in the main isolate",
  "fastmta-worker": "fastmta, delivery in a worker",
  "fastmta-shared": "fastmta, delivery in the SMTP worker",
  "fastmta-single": "fastmta, SMTP and delivery in the main isolate",
  "fastmta-nolease": "fastmta, no leases at accept",
  "fastmta-events": "fastmta, accounting + webhook",
  "fastmta-distributed": "fastmta, distributed (1 node)",
  "fastmta-distributed2": "fastmta, distributed (2 nodes)",
  postfix: "Postfix",
  raw: "raw (source→sink)",
};

/** The throughput table (all non-drain scenarios) in Markdown. */
export function throughputTable(sums: Summary[], scenarios: readonly Scenario[]): string {
  const cols: [string, string, number][] = [
    ["accepted/s", "acceptedPerSec", 0],
    ["delivered/s", "deliveredPerSec", 0],
    ["p50 ms", "p50", 1],
    ["p99 ms", "p99", 1],
    ["client acc/s", "clientPerSec", 0],
    ["CPU s", "cpuSec", 2],
    ["CPU ms/msg", "cpuMsPerMsg", 3],
    ["peak RSS MB", "rssMb", 0],
    ["peak PSS MB", "pssMb", 0],
  ];
  const lines = [
    `| scenario | system | runs | ${cols.map((c) => c[0]).join(" | ")} |`,
    `|---|---|---|${cols.map(() => "---:").join("|")}|`,
  ];
  for (const sc of scenarios.filter((s) => !s.drain)) {
    const rows = sums.filter((s) => s.scenario === sc.id);
    if (rows.length === 0) continue;
    const title = `${sc.title}, N=${fmt(sc.messages)}`;
    for (const s of rows) {
      const runs = s.ok === s.runs ? `${s.runs}` : `${s.ok}/${s.runs} ok`;
      lines.push(
        `| ${title} | ${SYSTEM_LABEL[s.system] ?? s.system} | ${runs} | ${
          cols.map(([, k, d]) => fmt(s.m[k], d)).join(" | ")
        } |`,
      );
    }
    const f = rows.find((s) => s.system === "fastmta");
    const p = rows.find((s) => s.system === "postfix");
    if (f && p) {
      lines.push(
        `| ${title} | **fastmta/Postfix** | | ${
          cols.map(([, k]) => ratio(f.m[k], p.m[k])).join(" | ")
        } |`,
      );
    }
  }
  return lines.join("\n");
}

/**
 * Component counters (fastmta threads; distributed runs add database and broker): medians of the
 * deltas over the main pass, in total and per message ("" without such runs).
 */
export function componentsTable(results: RunResult[]): string {
  const runs = results.filter((r) => r.components && Object.keys(r.components).length && !r.error);
  if (runs.length === 0) return "";
  const groups = [...new Set(runs.map((r) => `${r.scenario} ${r.system}`))];
  const lines = [
    "| scenario, system | counter (main pass) | median | per message |",
    "|---|---|---:|---:|",
  ];
  for (const sc of groups) {
    const list = runs.filter((r) => `${r.scenario} ${r.system}` === sc);
    const keys = [...new Set(list.flatMap((r) => Object.keys(r.components!)))].sort();
    for (const k of keys) {
      const m = median(list.map((r) => r.components![k] ?? NaN));
      if (m === 0 && k.includes(": ")) continue; // tables untouched by the pass
      const per = m / list[0].messages;
      const isCpu = k.endsWith("CPU s");
      lines.push(
        `| ${sc} | ${k} | ${fmt(m, isCpu ? 2 : 0)} | ${
          isCpu ? `${fmt(per * 1000, 3)} ms` : fmt(per, 2)
        } |`,
      );
    }
  }
  return lines.join("\n");
}

/** The queue-drain table in Markdown ("" if no drain runs). */
export function drainTable(sums: Summary[], scenarios: readonly Scenario[]): string {
  const sc = scenarios.find((s) => s.drain);
  if (!sc) return "";
  const rows = sums.filter((s) => s.scenario === sc.id);
  if (rows.length === 0) return "";
  const cols: [string, string, number][] = [
    ["accepted/s (sink down)", "acceptedPerSec", 0],
    ["accept s", "acceptSec", 1],
    ["drain s", "drainSec", 1],
    ["drained/s", "drainedPerSec", 0],
    ["RSS accept MB", "rssAcceptMb", 0],
    ["RSS drain MB", "rssDrainMb", 0],
    ["PSS accept MB", "pssAcceptMb", 0],
    ["PSS drain MB", "pssDrainMb", 0],
    ["CPU accept s", "cpuAcceptSec", 1],
    ["CPU drain s", "cpuDrainSec", 1],
  ];
  const title = `${sc.title}, N=${fmt(sc.messages)}`;
  const lines = [
    `| scenario | system | runs | ${cols.map((c) => c[0]).join(" | ")} |`,
    `|---|---|---|${cols.map(() => "---:").join("|")}|`,
  ];
  for (const s of rows) {
    const runs = s.ok === s.runs ? `${s.runs}` : `${s.ok}/${s.runs} ok`;
    lines.push(
      `| ${title} | ${SYSTEM_LABEL[s.system] ?? s.system} | ${runs} | ${
        cols.map(([, k, d]) => fmt(s.m[k], d)).join(" | ")
      } |`,
    );
  }
  const f = rows.find((s) => s.system === "fastmta");
  const p = rows.find((s) => s.system === "postfix");
  if (f && p) {
    lines.push(
      `| ${title} | **fastmta/Postfix** | | ${
        cols.map(([, k]) => ratio(f.m[k], p.m[k])).join(" | ")
      } |`,
    );
  }
  return lines.join("\n");
}

/** Failures and warnings as a Markdown list ("" if none). */
export function problems(results: RunResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    if (r.error) lines.push(`- **${r.scenario} ${r.system} run ${r.rep} failed:** ${r.error}`);
    for (const w of r.warnings) lines.push(`- ${r.scenario} ${r.system} run ${r.rep}: ${w}`);
  }
  return lines.join("\n");
}

/** Header of RESULTS.md when it does not exist yet. */
export const RESULTS_HEADER = `# fastmta benchmark results

Appended by \`deno task bench\` (see bench/run.ts \`--help\`); earlier entries are kept. All traffic
is on loopback; source, MTA and sink share the machine's cores, so numbers are only comparable
within one entry (same machine, same run, A/B alternated).

Columns: *accepted/s* = N ÷ time until the load generator finished; *delivered/s* = N ÷ time from
load start until the sink had all N messages (N×R recipients); *p50/p99* = accept latency (connect →
250 after the final "."), measured by bench/client.ts in a separate pass with the same C, S and R;
*client acc/s* = that pass's own accept rate (cross-check of smtp-source); *CPU s* = CPU seconds
(user+sys, incl. reaped children) of the MTA's process tree from load start until all were
delivered; *peak RSS* = fastmta's VmHWM, or Postfix's highest sampled sum of VmRSS over the master
and all its children (sampled every 250 ms); *peak PSS* = highest sampled sum of Pss
(smaps_rollup); for Postfix's many processes PSS is the fair memory figure (summed RSS counts
shared pages once per process). For the raw row, CPU/RSS are the sink's.
`;
