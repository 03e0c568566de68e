/**
 * `deno task bench`: fastmta vs Postfix vs the raw sink, all on loopback.
 *
 * For each scenario and repetition it starts a fresh sink (bench/sink.ts, or smtp-sink) on
 * 127.0.0.3:2526, a fresh MTA routed to it (fastmta with the embedded store; Postfix via the shared
 * postfix-relay.sh with relayhost = the sink), injects N messages with smtp-source, waits until the
 * sink has all of them, runs the instrumented client for accept latency, and samples the MTA's
 * process tree in /proc. Systems alternate A/B per repetition. See `--help`.
 */
import { fail, HELP, parseOptions, REPO, UsageError } from "./options.ts";
import { FastmtaServer } from "./fastmta.ts";
import { commandLines, line } from "./describe.ts";
import { PostfixServer } from "./postfix.ts";
import {
  componentsTable,
  drainTable,
  machineInfo,
  problems,
  RESULTS_HEADER,
  summarize,
  throughputTable,
} from "./report.ts";
import { type RunContext, runDrain, type RunResult, runThroughput } from "./scenarios.ts";
import type { Server } from "./server.ts";
import { cleanup, portInUse, run } from "./util.ts";

async function main(): Promise<number> {
  const options = parseOptions(Deno.args);
  if (!options) {
    console.log(HELP);
    return 0;
  }
  const { values, quick, systems, scenarios, reps, latencyMessages, sinkKind, load, needPostfix } =
    options;
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
  for (
    const variant of [
      "fastmta",
      "fastmta-noevents",
      "fastmta-main",
      "fastmta-worker",
      "fastmta-shared",
      "fastmta-single",
      "fastmta-nolease",
      "fastmta-events",
      "fastmta-distributed",
      "fastmta-distributed2",
    ] as const
  ) {
    if (!systems.includes(variant)) continue;
    const server = variant === "fastmta" ? fastmta : new FastmtaServer({
      repo: REPO,
      main: values["fastmta-main"],
      addr: values["fastmta-addr"],
      admin: values["fastmta-admin"],
      sinkAddr: values["sink-addr"],
      startTimeoutSec: 120,
      variant,
    });
    if (server.available()) {
      await server.describe();
      servers.set(variant, server);
    } else setupError(variant, `${values["fastmta-main"]} not found`);
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
        // raw: no MTA to retry or bounce, so nothing to measure against a refusing sink
        ...(systems.includes("raw") && !sc.failures ? [undefined] : []),
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
    componentsTable(results),
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
