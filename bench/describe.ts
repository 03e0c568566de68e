/**
 * What `deno task bench` prints about its runs: one progress line per result, and the commands
 * that reproduce them (for bench/RESULTS.md).
 */
import { clientArgs, smtpSourceArgs } from "./load.ts";
import type { RunContext, RunResult, Scenario } from "./scenarios.ts";
import type { Server } from "./server.ts";

/** One result as a line of the progress log. */
export function line(r: RunResult): string {
  if (r.error) return `FAILED: ${r.error}`;
  const f = (x: number | undefined, d = 0) => (x === undefined ? "–" : x.toFixed(d));
  const parts = [
    `accepted ${f(r.acceptedPerSec)}/s`,
    r.drain
      ? `drained in ${f(r.drain.drainSec, 1)} s (${f(r.drain.drainedPerSec)}/s)`
      : `delivered ${f(r.deliveredPerSec)}/s`,
  ];
  if (r.sink && r.sink.tempFails + r.sink.permFails > 0) {
    parts.push(
      `sink refused ${r.sink.tempFails} (4xx) + ${r.sink.permFails} (5xx), ${r.sink.bounces} DSNs`,
    );
  }
  if (r.latency) parts.push(`p50 ${f(r.latency.p50, 1)} ms p99 ${f(r.latency.p99, 1)} ms`);
  parts.push(`CPU ${f(r.cpuSec, 2)} s`, `RSS ${f(r.peakRssMb)} MB`, `PSS ${f(r.peakPssMb)} MB`);
  if (r.drain) {
    parts.push(`RSS accept/drain ${f(r.drain.rssAcceptMb)}/${f(r.drain.rssDrainMb)} MB`);
  }
  return parts.join(", ") + (r.warnings.length ? ` (${r.warnings.join("; ")})` : "");
}

/** The commands that reproduce the runs, for the results file. */
export function commandLines(
  ctx: RunContext,
  scenarios: Scenario[],
  servers: Map<string, Server>,
  values: Record<string, unknown>,
): string[] {
  const out: string[] = [];
  out.push(
    ctx.sinkKind === "own"
      ? `deno run --allow-net bench/sink.ts --listen ${ctx.sinkAddr}`
      : `smtp-sink -c -u nobody ${ctx.sinkAddr} 1024`,
  );
  if (servers.has("fastmta")) {
    out.push(
      `deno run -A main.ts serve --config fastmta.json  # smtp ${values["fastmta-addr"]}, ` +
        `admin ${values["fastmta-admin"]}, routes {"*": ${ctx.sinkAddr}}, sqlite3, ` +
        `retry 1s/2s/5s, fresh data_dir per run`,
    );
  }
  if (scenarios.some((sc) => sc.failures)) {
    const f = scenarios.find((sc) => sc.failures)!.failures!;
    out.push(
      `deno run --allow-net bench/sink.ts --listen ${ctx.sinkAddr} --temp-fail ${f.tempPct} ` +
        `--perm-fail ${f.permPct}  # realistic scenario; Postfix: postqueue -f every 1 s while ` +
        `waiting (fastmta retries after 1 s on its own)`,
    );
  }
  if (servers.has("fastmta-distributed") || servers.has("fastmta-distributed2")) {
    out.push(
      `fastmta-distributed: the same with "database": postgres://postgres@127.0.0.1:5432/<fresh db> ` +
        `and "rabbitmq": 127.0.0.1:5672, fresh vhost (bench/distributed.ts); ` +
        `fastmta-distributed2: two such nodes on one database and vhost, the second on the ` +
        `SMTP and admin ports + 2 and + 1 (the load goes to the first; both deliver)`,
    );
  }
  if (servers.has("fastmta-main")) {
    out.push(`fastmta-main: the same with {"delivery": {"isolate": "main"}}`);
  }
  if (servers.has("fastmta-worker")) {
    out.push(`fastmta-worker: the same with {"delivery": {"isolate": "worker"}}`);
  }
  if (servers.has("fastmta-shared")) {
    out.push(`fastmta-shared: the same with {"delivery": {"isolate": "smtp"}}`);
  }
  if (servers.has("fastmta-single")) {
    out.push(`fastmta-single: the same with {"smtp": {"isolate": "main"}}`);
  }
  if (servers.has("fastmta-nolease")) {
    out.push(`fastmta-nolease: the same with {"queue": {"lease_at_accept": false}}`);
  }
  if (servers.has("fastmta-noevents")) {
    out.push(`fastmta-noevents: the same with {"events": {"enabled": false}}`);
  }
  if (servers.has("fastmta-events")) {
    out.push(
      `fastmta-events: the same with events.accounting.path set and \`fastmta webhook add ` +
        `http://127.0.0.5:8090/bench --events '*'\` (bench/webhook_receiver.ts answers 200)`,
    );
  }
  if (servers.has("postfix")) {
    const [host, port] = [ctx.sinkAddr.split(":")[0], ctx.sinkAddr.split(":")[1]];
    out.push(
      `LISTEN=${values["postfix-addr"]} SINK_HOST=${host} SINK_PORT=${port} bash ` +
        `${values["postfix-script"]}; postsuper -d ALL; postfix start  # per run; ` +
        `drain: postqueue -f when the sink is up`,
    );
  }
  for (const sc of scenarios) {
    const l = {
      target: "<target>",
      messages: sc.messages,
      sessions: sc.sessions,
      size: sc.size,
      rcpts: sc.rcpts,
      reuse: sc.reuse,
    };
    out.push(
      ctx.load === "smtp-source"
        ? `smtp-source ${smtpSourceArgs(l).join(" ")}  # ${sc.id}`
        : `deno run --allow-net bench/client.ts ${clientArgs(l).join(" ")}  # ${sc.id}`,
    );
    const latN = ctx.latencyMessages(sc.messages);
    if (ctx.load === "smtp-source" && latN > 0 && !sc.drain && !sc.failures && !sc.reuse) {
      out.push(
        `deno run --allow-net bench/client.ts ${
          clientArgs({ ...l, messages: latN }).join(" ")
        }  # ${sc.id} latency pass`,
      );
    }
  }
  return out;
}
