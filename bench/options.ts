/**
 * The command line of `deno task bench`: the options, their defaults and checks, and what they
 * select (systems, scenarios with their message counts, repetitions, sink and load generator).
 */
import { parseArgs } from "node:util";
import { POSTFIX_SCRIPT, postfixInstalled, SMTP_SOURCE } from "./postfix.ts";
import { type Scenario, SCENARIOS } from "./scenarios.ts";
import { type SinkKind, SMTP_SINK } from "./sinks.ts";
import { assertLoopback } from "./util.ts";

/** The `--help` text. */
export const HELP = `deno task bench [options]

Runs fastmta (and with --vs-postfix, Postfix) against the same loopback sink, plus the raw ceiling
(load generator straight into the sink). Appends a summary to bench/RESULTS.md.

  --quick               ~30 s smoke run: every scenario with tiny N, 1 repetition, no Postfix
                        unless --vs-postfix; does not write RESULTS.md unless --record.
                        Fails only on breakage (a server that does not start or dies, rejected
                        or lost messages, bounces), never on slowness.
  --vs-postfix          also run Postfix (configured by ${POSTFIX_SCRIPT};
                        installs it with apt if missing), alternating A/B with fastmta
  --systems LIST        comma list of fastmta,postfix,raw,fastmta-noevents,fastmta-events,
                        fastmta-distributed (one node on RabbitMQ + PostgreSQL on loopback,
                        own vhost and database per run), fastmta-distributed2 (two
                        such nodes on one database and vhost; the load goes to the
                        first, both deliver), fastmta-main (delivery in the main
                        isolate, the default since 2026-12-04, set explicitly),
                        fastmta-worker (delivery in a worker of its own),
                        fastmta-shared (delivery in the SMTP worker),
                        fastmta-single (SMTP and delivery in the main isolate),
                        fastmta-nolease (queue.lease_at_accept: false);
                        default fastmta,raw[,postfix]
  --events-compare      also run fastmta with events off (fastmta-noevents) and with every
                        writer on (fastmta-events: accounting log + a webhook on loopback)
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

/** The repository root (no trailing slash). */
export const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** A command-line or environment problem: reported without a stack, exit code 2. */
export class UsageError extends Error {}

/** Stops the bench with a usage error. */
export function fail(msg: string): never {
  throw new UsageError(msg);
}

function intOpt(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) fail(`${name} must be a non-negative integer`);
  return n;
}

/** Parses and checks `args`; null for `--help`. Throws {@link UsageError} naming a bad option. */
export function parseOptions(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean", default: false },
      "vs-postfix": { type: "boolean", default: false },
      "events-compare": { type: "boolean", default: false },
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
  if (values.help) return null;
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
  if (values["events-compare"]) {
    for (const s of ["fastmta-noevents", "fastmta-events"]) {
      if (!systems.includes(s)) systems.push(s);
    }
  }
  for (const s of systems) {
    const known = [
      "fastmta",
      "postfix",
      "raw",
      "fastmta-noevents",
      "fastmta-main",
      "fastmta-worker",
      "fastmta-shared",
      "fastmta-single",
      "fastmta-nolease",
      "fastmta-events",
      "fastmta-distributed",
      "fastmta-distributed2",
    ];
    if (!known.includes(s)) {
      fail(`unknown system ${s}`);
    }
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
  // reused connections are smtp-source's -d: without it, skip them unless asked for by name
  if (load === "client" && scenarios.some((s) => s.reuse)) {
    if (wanted?.some((id) => scenarios.find((s) => s.id === id)?.reuse)) {
      fail("reused-connection scenarios need --load smtp-source");
    }
    scenarios.splice(0, scenarios.length, ...scenarios.filter((s) => !s.reuse));
  }
  const needPostfix = systems.includes("postfix");
  if (!needPostfix && !postfixInstalled()) {
    if (load === "smtp-source" && !haveSource) fail(`${SMTP_SOURCE} missing: use --load client`);
    if (sinkKind === "smtp-sink") fail(`${SMTP_SINK} missing: use --sink own`);
  }
  return { values, quick, systems, scenarios, reps, latencyMessages, sinkKind, load, needPostfix };
}
