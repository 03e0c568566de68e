/**
 * `deno task bench`: fastmta vs Postfix vs the raw sink, all on loopback.
 *
 * For each scenario and repetition it starts a fresh sink (bench/sink.ts, or smtp-sink) on
 * 127.0.0.3:2526, a fresh MTA routed to it (fastmta with the embedded store; Postfix via the shared
 * postfix-relay.sh with relayhost = the sink), injects N messages with smtp-source, waits until the
 * sink has all of them, runs the instrumented client for accept latency, and samples the MTA's
 * process tree in /proc. Systems alternate A/B per repetition. See `--help`.
 */
import { parseArgs } from "node:util";
import { FastmtaServer } from "./fastmta.ts";
import { commandLines, line } from "./describe.ts";
import { POSTFIX_SCRIPT, postfixInstalled, PostfixServer, SMTP_SOURCE } from "./postfix.ts";
import {
  drainTable,
  machineInfo,
  problems,
  RESULTS_HEADER,
  summarize,
  throughputTable,
} from "./report.ts";
import {
  type RunContext,
  runDrain,
  type RunResult,
  runThroughput,
  type Scenario,
  SCENARIOS,
} from "./scenarios.ts";
import type { Server } from "./server.ts";
import { type SinkKind, SMTP_SINK } from "./sinks.ts";
import { assertLoopback, cleanup, portInUse, run } from "./util.ts";

const HELP = `deno task bench [options]

Runs fastmta (and with --vs-postfix, Postfix) against the same loopback sink, plus the raw ceiling
(load generator straight into the sink). Appends a summary to bench/RESULTS.md.

  --quick               ~30 s smoke run: every scenario with tiny N, 1 repetition, no Postfix
                        unless --vs-postfix; does not write RESULTS.md unless --record.
                        Fails only on breakage (a server that does not start or dies, rejected
                        or lost messages, bounces), never on slowness.
  --vs-postfix          also run Postfix (configured by ${POSTFIX_SCRIPT};
                        installs it with apt if missing), alternating A/B with fastmta
  --systems LIST        comma list of fastmta,postfix,raw (default fastmta,raw[,postfix])
  --scenarios LIST      comma list of ${SCENARIOS.map((s) => s.id).join(",")} (default all)
  -n, --messages N      messages per throughput scenario (default 10000; quick 200)
  --drain-messages N    messages in the queue-drain scenario (default 100000; quick 300)
  --latency-messages N  messages in the latency pass (default min(N, 5000); 0 = skip)
  --reps N              repetitions, A/B alternated (default 3; quick 1; drain always 1)
  --sink KIND           own (bench/sink.ts, counts recipients; default) | smtp-sink (-c,
                        counts messages only)
  --load KIND           smtp-source (default if installed) | client (bench/client.ts)
  --sink-addr A         default 127.0.0.3:2526
  --fastmta-addr A      default 127.0.0.4:2525   (--fastmta-admin default 127.0.0.4:8026)
  --postfix-addr A      default 127.0.0.1:2625   (the shared script binds Postfix to 127.0.0.1)
  --fastmta-main PATH   default <repo>/main.ts
  --postfix-script P    default ${POSTFIX_SCRIPT}
  --min-rate R          deadline per wait = 60 s + N/R seconds (default 25 msgs/s)
  --results FILE        default bench/RESULTS.md;  --record / --no-record to force either way
  --keep                keep temp dirs (fastmta data + logs)
  -h, --help
`;

const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** A command-line or environment problem: reported without a stack, exit code 2. */
class UsageError extends Error {}

function fail(msg: string): never {
  throw new UsageError(msg);
}

function intOpt(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) fail(`${name} must be a non-negative integer`);
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean", default: false },
      "vs-postfix": { type: "boolean", default: false },
      systems: { type: "string" },
      scenarios: { type: "string" },
      messages: { type: "string", short: "n" },
      "drain-messages": { type: "string" },
      "latency-messages": { type: "string" },
      reps: { type: "string" },
      sink: { type: "string", default: "own" },
      load: { type: "string" },
      "sink-addr": { type: "string", default: "127.0.0.3:2526" },
      "fastmta-addr": { type: "string", default: "127.0.0.4:2525" },
      "fastmta-admin": { type: "string", default: "127.0.0.4:8026" },
      "postfix-addr": { type: "string", default: "127.0.0.1:2625" },
      "fastmta-main": { type: "string", default: `${REPO}/main.ts` },
      "postfix-script": { type: "string", default: POSTFIX_SCRIPT },
      "min-rate": { type: "string", default: "25" },
      results: { type: "string", default: `${REPO}/bench/RESULTS.md` },
      record: { type: "boolean" },
      "no-record": { type: "boolean" },
      keep: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const quick = values.quick;
  for (const a of ["sink-addr", "fastmta-addr", "fastmta-admin", "postfix-addr"] as const) {
    try {
      assertLoopback(values[a]);
    } catch (e) {
      fail(`--${a}: ${(e as Error).message}`);
    }
  }

  // systems
  const systems = (values.systems ?? `fastmta,raw${values["vs-postfix"] ? ",postfix" : ""}`)
    .split(",").map((s) => s.trim()).filter(Boolean);
  for (const s of systems) {
    if (!["fastmta", "postfix", "raw"].includes(s)) fail(`unknown system ${s}`);
  }
  // scenarios with effective N
  const n = intOpt(values.messages, "--messages", quick ? 200 : 10_000);
  const drainN = intOpt(values["drain-messages"], "--drain-messages", quick ? 300 : 100_000);
  const wanted = values.scenarios?.split(",").map((s) => s.trim()).filter(Boolean);
  for (const id of wanted ?? []) {
    if (!SCENARIOS.some((s) => s.id === id)) fail(`unknown scenario ${id}`);
  }
  const scenarios: Scenario[] = SCENARIOS
    .filter((s) => !wanted || wanted.includes(s.id))
    .map((s) => ({ ...s, messages: s.drain ? drainN : n }))
    .filter((s) => s.messages > 0);
  const reps = Math.max(1, intOpt(values.reps, "--reps", quick ? 1 : 3));
  const latencyN = values["latency-messages"];
  const latencyMessages = (msgs: number) =>
    latencyN === undefined ? Math.min(msgs, 5_000) : intOpt(latencyN, "--latency-messages", 0);

  // tools
  const sinkKind = values.sink as SinkKind;
  if (!["own", "smtp-sink"].includes(sinkKind)) fail(`--sink must be own or smtp-sink`);
  const haveSource = (() => {
    try {
      return Deno.statSync(SMTP_SOURCE).isFile;
    } catch {
      return false;
    }
  })();
  const load = (values.load ?? (haveSource ? "smtp-source" : "client")) as
    | "smtp-source"
    | "client";
  if (!["smtp-source", "client"].includes(load)) fail(`--load must be smtp-source or client`);
  const needPostfix = systems.includes("postfix");
  if (!needPostfix && !postfixInstalled()) {
    if (load === "smtp-source" && !haveSource) fail(`${SMTP_SOURCE} missing: use --load client`);
    if (sinkKind === "smtp-sink") fail(`${SMTP_SINK} missing: use --sink own`);
  }

  const log = (s: string) => console.log(s);
  const tmpRoot = await Deno.makeTempDir({ prefix: "fastmta-bench-" });
  const removeTmp = cleanup.add("remove temp dir", async () => {
    if (!values.keep) await Deno.remove(tmpRoot, { recursive: true }).catch(() => {});
  });
  const ctx: RunContext = {
    sinkKind,
    sinkAddr: values["sink-addr"],
    load,
    latencyMessages,
    minRate: Math.max(1, Number(values["min-rate"]) || 25),
    tmpRoot,
    keep: values.keep,
    log,
  };

  // servers
  const servers = new Map<string, Server>();
  const setupErrors: RunResult[] = [];
  const fastmta = new FastmtaServer({
    repo: REPO,
    main: values["fastmta-main"],
    addr: values["fastmta-addr"],
    admin: values["fastmta-admin"],
    sinkAddr: values["sink-addr"],
    startTimeoutSec: 120,
  });
  const postfix = new PostfixServer(
    values["postfix-addr"],
    values["sink-addr"],
    values["postfix-script"],
  );
  const setupError = (system: string, error: string) => {
    log(`${system}: ${error}`);
    for (const sc of scenarios) {
      setupErrors.push({
        scenario: sc.id,
        system,
        rep: 1,
        messages: sc.messages,
        error,
        warnings: [],
      });
    }
  };
  if (systems.includes("fastmta")) {
    if (fastmta.available()) {
      await fastmta.describe();
      servers.set("fastmta", fastmta);
    } else setupError("fastmta", `${values["fastmta-main"]} not found`);
  }
  if (needPostfix) {
    try {
      await postfix.setup(log);
      servers.set("postfix", postfix);
    } catch (e) {
      setupError("postfix", (e as Error).message);
    }
  }
  for (const addr of [values["sink-addr"], ...[...servers.values()].map((s) => s.addr)]) {
    if (await portInUse(addr)) fail(`${addr} is already in use; pick another with the options`);
  }

  const info = await machineInfo();
  const sinkDesc = sinkKind === "own"
    ? `own counting sink (bench/sink.ts, Deno native TCP; counts messages + recipients)`
    : `Postfix smtp-sink -c (counts messages only)`;
  const loadDesc = load === "smtp-source"
    ? `smtp-source for throughput; bench/client.ts (own instrumented client) for accept latency`
    : `bench/client.ts (own instrumented client) for throughput and latency`;
  log(`fastmta bench ${info.date}: ${info.nproc} CPUs, ${info.memory}, ${info.kernel}`);
  log(`  load average at start: ${info.loadavg}`);
  const busy = () => Deno.loadavg()[0] > Math.max(1, Number(info.nproc) || 1) * 0.75;
  if (busy()) {
    log(`  WARNING: the machine is busy (load average above the CPU count): numbers are noisy`);
  }
  log(`  sink: ${sinkDesc} on ${ctx.sinkAddr}`);
  log(`  load: ${loadDesc}`);
  if (sinkKind === "smtp-sink" && scenarios.some((s) => s.rcpts > 1)) {
    log(
      "  note: smtp-sink counts messages only; for R > 1 'all delivered' assumes the MTA sends " +
        "each message's recipients in one transaction (use --sink own to count recipients)",
    );
  }
  log(`  systems: ${[...servers.keys(), ...(systems.includes("raw") ? ["raw"] : [])].join(", ")}`);
  log(
    `  scenarios: ${
      scenarios.map((s) => `${s.id} (N=${s.messages})`).join(", ")
    }; ${reps} repetition(s)`,
  );

  const results: RunResult[] = [...setupErrors];
  const t0 = Date.now();
  for (const sc of scenarios) {
    const scReps = sc.drain ? 1 : reps;
    log(`\n== ${sc.title}, N=${sc.messages}`);
    if (sc.drain && systems.includes("raw")) log(`  (raw: no queue, nothing to drain)`);
    for (let rep = 1; rep <= scReps; rep++) {
      // alternate A/B: fastmta first on odd reps, Postfix first on even ones
      const order = [...servers.values()];
      if (rep % 2 === 0) order.reverse();
      const runs: (Server | undefined)[] = sc.drain ? order : [
        ...(systems.includes("raw") ? [undefined] : []),
        ...order,
      ];
      for (const server of runs) {
        const name = server?.name ?? "raw";
        log(`  [rep ${rep}/${scReps}] ${name} …`);
        const r = sc.drain
          ? await runDrain(ctx, sc, server!, rep)
          : await runThroughput(ctx, sc, server, rep);
        results.push(r);
        log(`    ${line(r)}`);
      }
    }
  }
  const elapsed = (Date.now() - t0) / 1000;
  const loadEnd = Deno.loadavg().map((x) => x.toFixed(2)).join(" ");

  // report
  const sums = summarize(results);
  const tables = [
    throughputTable(sums, scenarios),
    drainTable(sums, scenarios),
  ].filter((t) => t && t.split("\n").length > 2);
  const issues = problems(results);
  const versions = [...servers.values()].map((s) => s.version).join(", ");
  const commands = commandLines(ctx, scenarios, servers, values);
  const section = [
    `## ${info.date} — \`deno task bench ${Deno.args.join(" ")}\``.trimEnd(),
    "",
    `- machine: ${info.nproc} CPUs (${info.cpu}), ${info.memory} RAM, ${info.kernel}; ` +
    `load average at start ${info.loadavg}, at end ${loadEnd}` +
    (busy() ? " (**busy machine: other work competed for the CPUs; numbers are noisy**)" : ""),
    `- software: Deno ${info.deno}${versions ? `, ${versions}` : ""}`,
    `- sink: ${sinkDesc}, ${ctx.sinkAddr}; load: ${loadDesc}`,
    `- ${reps} repetition(s) per scenario (medians), A/B alternated; drain 1 run; ` +
    `wall time ${elapsed.toFixed(0)} s`,
    "- commands:",
    ...commands.map((c) => `  - \`${c}\``),
    "",
    ...tables.flatMap((t) => [t, ""]),
    ...(issues ? ["Problems:", "", issues, ""] : []),
  ].join("\n");
  console.log(`\n${section}`);

  const record = values["no-record"] ? false : values.record ?? !quick;
  if (record) {
    let existing = "";
    try {
      existing = await Deno.readTextFile(values.results);
    } catch { /* new file */ }
    const prefix = existing ? (existing.endsWith("\n") ? "\n" : "\n\n") : `${RESULTS_HEADER}\n`;
    await Deno.writeTextFile(values.results, `${prefix}${section}`, { append: true });
    // keep `deno fmt --check` clean: let deno fmt align the new tables
    await run(Deno.execPath(), ["fmt", "--quiet", values.results], { cwd: REPO, timeoutMs: 60_000 })
      .catch(() => undefined);
    log(`appended to ${values.results}`);
  }
  await Deno.mkdir(`${REPO}/bench/out`, { recursive: true }).catch(() => {});
  const json = `${REPO}/bench/out/bench-${info.date.replace(/[:]/g, "")}.json`;
  await Deno.writeTextFile(json, JSON.stringify({ info, results }, null, 2)).catch(() => {});
  log(`raw results: ${json}`);

  removeTmp();
  if (!values.keep) await Deno.remove(tmpRoot, { recursive: true }).catch(() => {});
  else log(`kept ${tmpRoot}`);
  const failed = results.filter((r) => r.error).length;
  if (failed) log(`\n${failed} run(s) failed`);
  return failed ? 1 : 0;
}

if (import.meta.main) {
  let interrupted = false;
  const onSignal = (sig: Deno.Signal) => async () => {
    if (interrupted) return;
    interrupted = true;
    cleanup.close();
    console.error(`\nbench: ${sig}, cleaning up …`);
    await cleanup.runAll();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal("SIGINT"));
  Deno.addSignalListener("SIGTERM", onSignal("SIGTERM"));
  let code = 1;
  try {
    code = await main();
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`bench: ${e.message}`);
      code = 2;
    } else console.error(`bench: ${(e as Error).stack ?? e}`);
  } finally {
    await cleanup.runAll();
  }
  Deno.exit(code);
}
