/**
 * Process accounting from /proc: CPU seconds (utime+stime, plus cutime+cstime of reaped children),
 * resident memory (VmRSS, VmHWM) and proportional memory (Pss from smaps_rollup) of a process tree.
 *
 * A "tree" is a root PID and all its descendants, found by scanning /proc/<pid>/stat for parent
 * PIDs. Postfix: root = the master process (its daemons come and go; the master's cutime/cstime
 * keeps the CPU time of daemons it has reaped). fastmta: root = the Deno process (all its threads
 * are in its own /proc/<pid>/stat).
 */

/** Clock ticks per second for /proc/<pid>/stat times (`getconf CLK_TCK`; 100 on Linux). */
export const CLK_TCK = readClockTicks();

function readClockTicks(): number {
  try {
    const out = new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped", stderr: "null" })
      .outputSync();
    const value = Number(new TextDecoder().decode(out.stdout).trim());
    return Number.isFinite(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
}

/** The fields of /proc/<pid>/stat that the benchmark uses. */
export interface ProcStat {
  /** Process id. */
  pid: number;
  /** Command name (without parentheses). */
  comm: string;
  /** Parent process id. */
  ppid: number;
  /** User CPU ticks of the process (all threads). */
  utime: number;
  /** System CPU ticks of the process (all threads). */
  stime: number;
  /** User CPU ticks of waited-for (reaped) children. */
  cutime: number;
  /** System CPU ticks of waited-for (reaped) children. */
  cstime: number;
}

/** Parses the text of /proc/<pid>/stat; `undefined` when it is malformed. */
export function parseStat(text: string): ProcStat | undefined {
  // comm may contain spaces and parentheses: it runs from the first "(" to the last ")".
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  const comm = text.slice(open + 1, close);
  // fields after comm start with field 3 (state); utime is field 14 -> index 11 here.
  const rest = text.slice(close + 2).split(" ");
  const num = (i: number) => Number(rest[i]);
  const stat: ProcStat = {
    pid,
    comm,
    ppid: num(1),
    utime: num(11),
    stime: num(12),
    cutime: num(13),
    cstime: num(14),
  };
  return Number.isFinite(stat.utime) ? stat : undefined;
}

/** Reads /proc/<pid>/stat; `undefined` if the process is gone. */
export function readStat(pid: number): ProcStat | undefined {
  try {
    return parseStat(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return undefined;
  }
}

/** All live processes' stat lines (processes that vanish while scanning are skipped). */
export function allStats(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!entry.isDirectory || !/^\d+$/.test(entry.name)) continue;
    const stat = readStat(Number(entry.name));
    if (stat) out.push(stat);
  }
  return out;
}

/** The root and all its live descendants (empty if the root is gone). */
export function processTree(root: number): ProcStat[] {
  const stats = allStats();
  const byParent = new Map<number, ProcStat[]>();
  let rootStat: ProcStat | undefined;
  for (const s of stats) {
    if (s.pid === root) rootStat = s;
    const list = byParent.get(s.ppid);
    if (list) list.push(s);
    else byParent.set(s.ppid, [s]);
  }
  if (!rootStat) return [];
  const tree: ProcStat[] = [];
  const todo = [rootStat];
  while (todo.length > 0 && tree.length < 100_000) {
    const s = todo.pop()!;
    tree.push(s);
    for (const child of byParent.get(s.pid) ?? []) todo.push(child);
  }
  return tree;
}

/**
 * CPU seconds used so far by a process tree: every live member's utime+stime, plus every live
 * member's cutime+cstime (children it has already reaped, e.g. Postfix daemons that exited).
 */
export function treeCpuSeconds(tree: ProcStat[]): number {
  let ticks = 0;
  for (const s of tree) ticks += s.utime + s.stime + s.cutime + s.cstime;
  return ticks / CLK_TCK;
}

/** Memory numbers of one process, in KiB (0 when unreadable). */
export interface ProcMem {
  /** Current resident set size (VmRSS). */
  rssKb: number;
  /** Peak resident set size over the process lifetime (VmHWM). */
  hwmKb: number;
  /** Proportional set size (smaps_rollup Pss); 0 unless requested. */
  pssKb: number;
}

/** Reads VmRSS/VmHWM from /proc/<pid>/status and, if `withPss`, Pss from smaps_rollup. */
export function readMem(pid: number, withPss: boolean): ProcMem {
  const mem: ProcMem = { rssKb: 0, hwmKb: 0, pssKb: 0 };
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    mem.rssKb = kbField(status, "VmRSS:");
    mem.hwmKb = kbField(status, "VmHWM:");
  } catch { /* gone */ }
  if (withPss) {
    try {
      mem.pssKb = kbField(Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`), "\nPss:");
    } catch { /* gone or not permitted */ }
  }
  return mem;
}

function kbField(text: string, key: string): number {
  const at = text.indexOf(key);
  if (at < 0) return 0;
  const m = /^\s*(\d+)/.exec(text.slice(at + key.length));
  return m ? Number(m[1]) : 0;
}

/** One sample of a process tree. */
export interface TreeSample {
  /** Wall clock, ms since the epoch. */
  at: number;
  /** Number of live processes in the tree. */
  procs: number;
  /** CPU seconds so far (see {@link treeCpuSeconds}). */
  cpuSec: number;
  /** Sum of VmRSS over the tree, KiB. */
  rssKb: number;
  /** Sum of VmHWM over the live members, KiB. */
  hwmKb: number;
  /** Sum of Pss over the tree, KiB. */
  pssKb: number;
}

/** Takes one sample of the tree rooted at `root`. */
export function sampleTree(root: number, withPss = true): TreeSample {
  const tree = processTree(root);
  const sample: TreeSample = {
    at: Date.now(),
    procs: tree.length,
    cpuSec: treeCpuSeconds(tree),
    rssKb: 0,
    hwmKb: 0,
    pssKb: 0,
  };
  for (const s of tree) {
    const mem = readMem(s.pid, withPss);
    sample.rssKb += mem.rssKb;
    sample.hwmKb += mem.hwmKb;
    sample.pssKb += mem.pssKb;
  }
  return sample;
}

/** Peaks over a series of samples. */
export interface Peaks {
  /** Samples taken. */
  samples: number;
  /** Highest summed VmRSS seen, KiB. */
  rssKb: number;
  /** Highest summed Pss seen, KiB. */
  pssKb: number;
  /** Highest summed VmHWM of live members seen, KiB (exact peak for a single process). */
  hwmKb: number;
  /** Most processes seen at once. */
  procs: number;
}

/**
 * Samples a process tree periodically in the background. Named phases ("accept", "drain") keep
 * separate peaks. Stops by itself after `maxSamples`.
 */
export class TreeSampler {
  #root: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #phase = "run";
  #peaks = new Map<string, Peaks>();
  #count = 0;
  #maxSamples: number;
  #withPss: boolean;

  /**
   * @param root PID of the tree's root.
   * @param intervalMs sampling period.
   * @param maxSamples hard cap on samples (the sampler stops by itself).
   * @param withPss also read smaps_rollup (costs a page-table walk per process).
   */
  constructor(root: number, intervalMs = 200, maxSamples = 200_000, withPss = true) {
    this.#root = root;
    this.#maxSamples = maxSamples;
    this.#withPss = withPss;
    this.sample();
    this.#timer = setInterval(() => this.sample(), intervalMs);
  }

  /** Switches the phase that subsequent samples are attributed to. */
  phase(name: string): void {
    this.sample();
    this.#phase = name;
    this.sample();
  }

  /** Takes a sample now and returns it. */
  sample(): TreeSample {
    const s = sampleTree(this.#root, this.#withPss);
    if (++this.#count >= this.#maxSamples) this.stop();
    if (s.procs === 0) return s;
    const p = this.#peaks.get(this.#phase) ??
      { samples: 0, rssKb: 0, pssKb: 0, hwmKb: 0, procs: 0 };
    p.samples++;
    p.rssKb = Math.max(p.rssKb, s.rssKb);
    p.pssKb = Math.max(p.pssKb, s.pssKb);
    p.hwmKb = Math.max(p.hwmKb, s.hwmKb);
    p.procs = Math.max(p.procs, s.procs);
    this.#peaks.set(this.#phase, p);
    return s;
  }

  /** Peaks of one phase (zeros if never sampled). */
  peaks(phase = "run"): Peaks {
    return this.#peaks.get(phase) ?? { samples: 0, rssKb: 0, pssKb: 0, hwmKb: 0, procs: 0 };
  }

  /** Stops sampling (idempotent). */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
