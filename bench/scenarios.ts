/**
 * Scenario definitions and the per-run procedures: a throughput run (load, wait for delivery, then
 * a latency pass with the instrumented client) and a queue-drain run (sink down while N messages
 * are accepted, then sink up, time to drain). Every wait is bounded.
 */
import { type Load, type LoadResult, runClient, runSmtpSource } from "./load.ts";
import { readMem, sampleTree, TreeSampler } from "./procstat.ts";
import type { Server } from "./server.ts";
import { type SinkFailures, type SinkKind, SinkProcess, type SinkSnapshot } from "./sinks.ts";
import { portInUse, sleep } from "./util.ts";
import type { Scenario } from "./scenario_list.ts";

export { type Scenario, SCENARIOS } from "./scenario_list.ts";

/** Settings shared by all runs. */
export interface RunContext {
  /** Sink implementation. */
  sinkKind: SinkKind;
  /** Sink address (also the route/relayhost target). */
  sinkAddr: string;
  /** Main load generator. */
  load: "smtp-source" | "client";
  /** Messages for the latency pass (0 = skip), given the scenario's N. */
  latencyMessages: (n: number) => number;
  /** Lowest rate (msgs/s) assumed when computing deadlines; deadline = 60 s + N / minRate. */
  minRate: number;
  /** Root of this invocation's temp dirs. */
  tmpRoot: string;
  /** Keep run dirs (data, logs). */
  keep: boolean;
  /** Progress output. */
  log: (s: string) => void;
}

/** What one run of one system measured. */
export interface RunResult {
  /** Scenario id. */
  scenario: string;
  /** "fastmta", "postfix" or "raw". */
  system: string;
  /** Repetition (1-based). */
  rep: number;
  /** Messages in the main pass. */
  messages: number;
  /** Failure (breakage): the run's numbers are incomplete. */
  error?: string;
  /** Non-fatal observations (duplicates etc.). */
  warnings: string[];
  /** Main pass: seconds from load start until the generator finished. */
  acceptSec?: number;
  /** Main pass: messages accepted per second. */
  acceptedPerSec?: number;
  /** Main pass: seconds from load start until the sink had all N (N×R recipients). */
  deliverSec?: number;
  /** N / deliverSec. */
  deliveredPerSec?: number;
  /** Accept latency from the instrumented client. */
  latency?: {
    n: number;
    p50: number;
    p90: number;
    p99: number;
    max: number;
    acceptedPerSec: number;
  };
  /** CPU seconds of the measured process tree during the main pass (load start to all delivered). */
  cpuSec?: number;
  /** Peak resident memory, MiB (fastmta: VmHWM; Postfix: highest sampled sum of VmRSS). */
  peakRssMb?: number;
  /** Highest sampled sum of Pss, MiB. */
  peakPssMb?: number;
  /** Most processes seen in the measured tree. */
  procs?: number;
  /** Final sink counters of the run. */
  sink?: SinkSnapshot;
  /** Per-component counters of the main pass (distributed mode: database and broker), deltas. */
  components?: Record<string, number>;
  /** Queue-drain numbers. */
  drain?: {
    acceptSec: number;
    acceptedPerSec: number;
    drainSec: number;
    drainedPerSec: number;
    rssAcceptMb: number;
    rssDrainMb: number;
    pssAcceptMb: number;
    pssDrainMb: number;
    cpuAcceptSec: number;
    cpuDrainSec: number;
  };
}

const MB = 1024;

function deadlineMs(ctx: RunContext, messages: number): number {
  return (60 + messages / ctx.minRate) * 1000;
}

function generate(ctx: RunContext, load: Load, timeoutMs: number): Promise<LoadResult> {
  if (load.reuse && ctx.load === "client") {
    return Promise.reject(new Error("reused connections need --load smtp-source"));
  }
  return ctx.load === "client" ? runClient(load, timeoutMs) : runSmtpSource(load, timeoutMs);
}

function rate(n: number, sec: number): number {
  return sec > 0 ? n / sec : NaN;
}

/**
 * Waits for `n` more messages (n×R recipients) at the sink, relative to `base`. Throws on timeout
 * (with the counts seen), so a stuck queue is reported as breakage.
 */
async function awaitDelivery(
  ctx: RunContext,
  sink: SinkProcess,
  base: SinkSnapshot,
  n: number,
  rcpts: number,
  server: Server | undefined,
  label: string,
  failures?: SinkFailures,
): Promise<SinkSnapshot> {
  const target = {
    msgs: base.msgs + n,
    rcpts: base.rcpts + n * rcpts,
    done: failures ? (s: SinkSnapshot) => outcomes(s, base) >= n : undefined,
  };
  const { reached, snap } = await sink.waitFor(target, deadlineMs(ctx, n), (s) => {
    const got = failures
      ? `${outcomes(s, base)}/${n} final outcomes (${s.tempFails - base.tempFails} 4xx, ` +
        `${s.permFails - base.permFails} 5xx, ${s.bounces - base.bounces} DSNs)`
      : sink.countsRecipients
      ? `${s.rcpts - base.rcpts}/${n * rcpts} rcpts`
      : `${s.msgs - base.msgs}/${n} msgs`;
    ctx.log(`    … ${label}: sink has ${got}`);
    if (server && !server.alive()) throw new Error(`${server.name} died (see ${server.logHint()})`);
  });
  if (!reached) {
    const got = failures
      ? `${outcomes(snap, base)} of ${n} final outcomes`
      : sink.countsRecipients
      ? `${snap.rcpts - base.rcpts} of ${n * rcpts} recipients`
      : `${snap.msgs - base.msgs} of ${n} messages`;
    throw new Error(
      `${label}: sink got only ${got} within ${Math.round(deadlineMs(ctx, n) / 1000)} s`,
    );
  }
  return snap;
}

/**
 * Messages whose outcome is final at the sink: accepted (not DSNs) plus refused with 5xx, counted
 * only once the matching DSN has arrived (a 5xx is final for the message only when its sender
 * has been told).
 */
function outcomes(s: SinkSnapshot, base: SinkSnapshot): number {
  const perm = s.permFails - base.permFails;
  const dsns = s.bounces - base.bounces;
  return s.msgs - base.msgs - dsns + Math.min(perm, dsns);
}

/**
 * While waiting for a realistic run, asks the server to retry deferred mail now and then
 * (Postfix's stock backoff is 300 s or more; fastmta's bench config retries after 1 s).
 */
function retryLoop(server: Server | undefined, everyMs: number): () => Promise<void> {
  let stopped = false;
  const loop = (async () => {
    while (!stopped && server?.retryNow) {
      await sleep(everyMs);
      if (!stopped) await server.retryNow().catch(() => undefined);
    }
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}

/** Throughput run: main load, wait for delivery, latency pass; server and sink fresh. */
export async function runThroughput(
  ctx: RunContext,
  sc: Scenario,
  server: Server | undefined,
  rep: number,
): Promise<RunResult> {
  const system = server?.name ?? "raw";
  const result: RunResult = { scenario: sc.id, system, rep, messages: sc.messages, warnings: [] };
  const runDir = `${ctx.tmpRoot}/${sc.id}-${system}-${rep}`;
  await Deno.mkdir(runDir, { recursive: true });
  let sink: SinkProcess | undefined;
  let sampler: TreeSampler | undefined;
  try {
    sink = await SinkProcess.start(ctx.sinkKind, ctx.sinkAddr, sc.failures);
    if (server) await server.start(runDir);
    const root = server ? server.rootPid() : sink.proc.pid;
    sampler = new TreeSampler(root, 250);
    const target = server?.addr ?? ctx.sinkAddr;
    const load: Load = {
      target,
      messages: sc.messages,
      sessions: sc.sessions,
      size: sc.size,
      rcpts: sc.rcpts,
      reuse: sc.reuse,
    };

    // main pass
    const comp0 = await server?.componentStats?.();
    const cpu0 = sampleTree(root, false).cpuSec;
    const base = sink.counts;
    const stopRetries = sc.failures ? retryLoop(server, 1_000) : undefined;
    let got: SinkSnapshot;
    let res: LoadResult;
    try {
      res = await generate(ctx, load, deadlineMs(ctx, sc.messages));
      if (res.error) throw new Error(res.error);
      result.acceptSec = (res.endedAt - res.startedAt) / 1000;
      result.acceptedPerSec = rate(res.accepted, result.acceptSec);
      got = await awaitDelivery(
        ctx,
        sink,
        base,
        sc.messages,
        sc.rcpts,
        server,
        "delivery",
        sc.failures,
      );
    } finally {
      await stopRetries?.();
    }
    result.deliverSec = (got.lastAt - res.startedAt) / 1000;
    result.deliveredPerSec = rate(sc.messages, result.deliverSec);
    result.cpuSec = sampleTree(root, false).cpuSec - cpu0;
    const comp1 = await server?.componentStats?.();
    if (comp0 && comp1) {
      result.components = Object.fromEntries(
        Object.entries(comp1).map(([k, v]) => [k, v - (comp0[k] ?? 0)]),
      );
    }
    if (res.client) {
      result.latency = {
        n: res.client.ok,
        ...res.client.latency,
        acceptedPerSec: res.client.acceptedPerSec,
      };
    }

    // latency pass with the instrumented client (when smtp-source was the main load)
    // (not for the realistic and reuse runs: their sink accounting and connections differ)
    const latN = sc.failures || sc.reuse ? 0 : ctx.latencyMessages(sc.messages);
    if (!res.client && latN > 0) {
      const base2 = sink.counts;
      const lat = await runClient({ ...load, messages: latN }, deadlineMs(ctx, latN));
      if (lat.error) throw new Error(`latency pass: ${lat.error}`);
      const c = lat.client!;
      result.latency = { n: c.ok, ...c.latency, acceptedPerSec: c.acceptedPerSec };
      await awaitDelivery(ctx, sink, base2, latN, sc.rcpts, server, "latency-pass delivery");
    }

    if (server && !server.alive()) throw new Error(`${server.name} died (see ${server.logHint()})`);
    await sleep(300); // let stray duplicates/bounces show up
    const peaks = sampler.peaks();
    const hwm = server?.name.startsWith("fastmta") ? readMem(root, false).hwmKb : 0;
    result.peakRssMb = Math.max(peaks.rssKb, hwm) / MB;
    result.peakPssMb = peaks.pssKb / MB;
    result.procs = peaks.procs;
    checkSink(result, sink, base, sc, sc.messages + (res.client ? 0 : latN));
  } catch (e) {
    result.error = (e as Error).message;
  } finally {
    sampler?.stop();
    if (sink) result.sink = sink.counts;
    await server?.stop();
    await sink?.stop();
    if (!ctx.keep && !result.error) await Deno.remove(runDir, { recursive: true }).catch(() => {});
  }
  return result;
}

function checkSink(
  result: RunResult,
  sink: SinkProcess,
  base: SinkSnapshot,
  sc: Scenario,
  total: number,
) {
  const c = sink.counts;
  if (sc.failures) {
    const perm = c.permFails - base.permFails;
    const dsns = c.bounces - base.bounces;
    const extra = outcomes(c, base) - total;
    if (extra > 0) result.warnings.push(`${extra} extra final outcomes (duplicates?)`);
    if (dsns !== perm) result.warnings.push(`${dsns} DSNs for ${perm} messages refused with 5xx`);
  } else if (sink.countsRecipients) {
    const extra = c.rcpts - base.rcpts - total * sc.rcpts;
    if (extra > 0) result.warnings.push(`${extra} extra recipient deliveries (duplicates?)`);
    if (c.bounces > 0) {
      result.error = `${c.bounces} bounce messages (MAIL FROM:<>) reached the sink`;
    }
  } else if (c.msgs - base.msgs > total) {
    result.warnings.push(`${c.msgs - base.msgs - total} extra messages at the sink`);
  }
}

/** Queue-drain run: sink down while N messages are accepted, then sink up; time to drain. */
export async function runDrain(
  ctx: RunContext,
  sc: Scenario,
  server: Server,
  rep: number,
): Promise<RunResult> {
  const result: RunResult = {
    scenario: sc.id,
    system: server.name,
    rep,
    messages: sc.messages,
    warnings: [],
  };
  const runDir = `${ctx.tmpRoot}/${sc.id}-${server.name}-${rep}`;
  await Deno.mkdir(runDir, { recursive: true });
  let sink: SinkProcess | undefined;
  let sampler: TreeSampler | undefined;
  try {
    if (await portInUse(ctx.sinkAddr)) throw new Error(`sink address ${ctx.sinkAddr} is in use`);
    await server.start(runDir);
    const root = server.rootPid();
    sampler = new TreeSampler(root, 250);
    sampler.phase("accept");
    const cpu0 = sampleTree(root, false).cpuSec;
    const load: Load = {
      target: server.addr,
      messages: sc.messages,
      sessions: sc.sessions,
      size: sc.size,
      rcpts: sc.rcpts,
    };
    const res = await generate(ctx, load, deadlineMs(ctx, sc.messages));
    if (res.error) throw new Error(`with the sink down: ${res.error}`);
    const acceptSec = (res.endedAt - res.startedAt) / 1000;
    result.acceptSec = acceptSec;
    result.acceptedPerSec = rate(res.accepted, acceptSec);
    if (res.client) {
      result.latency = {
        n: res.client.ok,
        ...res.client.latency,
        acceptedPerSec: res.client.acceptedPerSec,
      };
    }
    const cpu1 = sampleTree(root, false).cpuSec;
    const accept = sampler.peaks("accept");
    const hwmAccept = server.name.startsWith("fastmta") ? readMem(root, false).hwmKb : 0;
    ctx.log(
      `    … ${sc.messages} accepted with the sink down in ${acceptSec.toFixed(1)} s; sink up`,
    );

    sampler.phase("drain");
    sink = await SinkProcess.start(ctx.sinkKind, ctx.sinkAddr);
    const upAt = sink.readyAt;
    await server.afterSinkUp();
    const zero: SinkSnapshot = {
      msgs: 0,
      rcpts: 0,
      bounces: 0,
      lastAt: 0,
      tempFails: 0,
      permFails: 0,
    };
    const got = await awaitDelivery(ctx, sink, zero, sc.messages, sc.rcpts, server, "drain");
    const drainSec = (got.lastAt - upAt) / 1000;
    const cpu2 = sampleTree(root, false).cpuSec;
    await sleep(300);
    const drain = sampler.peaks("drain");
    result.drain = {
      acceptSec,
      acceptedPerSec: result.acceptedPerSec,
      drainSec,
      drainedPerSec: rate(sc.messages, drainSec),
      rssAcceptMb: Math.max(accept.rssKb, hwmAccept) / MB,
      rssDrainMb: drain.rssKb / MB,
      pssAcceptMb: accept.pssKb / MB,
      pssDrainMb: drain.pssKb / MB,
      cpuAcceptSec: cpu1 - cpu0,
      cpuDrainSec: cpu2 - cpu1,
    };
    result.deliverSec = (got.lastAt - res.startedAt) / 1000;
    result.cpuSec = cpu2 - cpu0;
    result.peakRssMb = Math.max(result.drain.rssAcceptMb, result.drain.rssDrainMb);
    result.peakPssMb = Math.max(accept.pssKb, drain.pssKb) / MB;
    result.procs = Math.max(accept.procs, drain.procs);
    if (!server.alive()) throw new Error(`${server.name} died (see ${server.logHint()})`);
    checkSink(result, sink, zero, sc, sc.messages);
  } catch (e) {
    result.error = (e as Error).message;
  } finally {
    sampler?.stop();
    if (sink) result.sink = sink.counts;
    await server.stop();
    await sink?.stop();
    if (!ctx.keep && !result.error) await Deno.remove(runDir, { recursive: true }).catch(() => {});
  }
  return result;
}
