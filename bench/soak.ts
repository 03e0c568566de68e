/**
 * `deno task soak --minutes N`: one fastmta node (embedded SQLite) under mixed load for N minutes
 * (issue 18 part 5): SMTP mail that is delivered, deferred (451 from the sink until `max_age`
 * turns it into a DSN), bounced (550 5.1.1: a DSN and a suppression, so later mail to the same
 * addresses is suppressed) and REST API sends. Every minute it prints throughput, the server's
 * RSS, its open file descriptors, the database's size and the queue depth; at the end the same
 * as a table and the trend of RSS and descriptors (a least-squares slope per minute over the
 * minutes after the first, whose warm-up is left out).
 *
 * It reuses the tests' loopback world (tests/helpers: sink, DNS, fixture): benchmarks are outside
 * the layering (docs/layers.md).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { E2E_DOMAIN, startE2eFixture } from "../tests/helpers/e2e_fixture.ts";
import { runCli } from "../tests/helpers/server_process.ts";
import { startSmtpLoad } from "../tests/helpers/smtp_load.ts";
import { readMem } from "./procstat.ts";

const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const { values } = parseArgs({
  args: Deno.args,
  options: { minutes: { type: "string", default: "5" }, help: { type: "boolean", short: "h" } },
});
if (values.help) {
  console.log("deno task soak [--minutes N]   (default 5): mixed load, one line per minute");
  Deno.exit(0);
}
const minutes = Number(values.minutes);
if (!Number.isInteger(minutes) || minutes < 1) {
  console.error(`--minutes: expected a whole number of minutes >= 1, got "${values.minutes}"`);
  Deno.exit(2);
}

interface Sample {
  minute: number;
  acceptedPerS: number;
  deliveredPerS: number;
  rssMb: number;
  fds: number;
  dbMb: number;
  queued: number;
  deferred: number;
  failed: number;
  suppressed: number;
}

const BOUNCE_ADDRESSES = Array.from({ length: 20 }, (_, i) => `gone${i}@${E2E_DOMAIN}`);

await using e2e = await startE2eFixture({
  prefix: "fastmta-soak-",
  zones: (ip) => ({
    [E2E_DOMAIN]: { MX: [{ preference: 10, exchange: `mx1.${E2E_DOMAIN}` }] },
    [`mx1.${E2E_DOMAIN}`]: { A: [ip] },
    "defer.test": { MX: [{ preference: 10, exchange: `mx1.${E2E_DOMAIN}` }] },
    "origin.test": { MX: [{ preference: 10, exchange: `mx1.${E2E_DOMAIN}` }] },
  }),
  sinkReply: (ctx) => {
    if (ctx.command !== "RCPT") return undefined;
    if (ctx.arg.includes("@defer.test")) return "451 4.7.1 try again later";
    if (ctx.arg.includes("gone")) return "550 5.1.1 user unknown";
    return undefined;
  },
});
const config = e2e.nodeConfig();
Object.assign(config.delivery as Record<string, unknown>, {
  retry_schedule: ["10s", "20s", "30s"],
  max_age: "1m",
});
const configPath = await e2e.writeConfig(config);
const server = await e2e.start(config);
const dbPath = `${config.data_dir}/fastmta.db`;
const key = (await runCli(["apikey", "add", "soak", "--config", configPath])).stdout.trim();
if (!key.startsWith("fmk_")) throw new Error(`no API key: ${key}`);
e2e.sink.clearMessages(); // the sink keeps no bodies for long: counts only below
let delivered = 0;
const countDelivered = setInterval(() => {
  delivered += e2e.sink.messages.length;
  e2e.sink.clearMessages();
}, 1_000);

// The steady part: delivered mail on two connections.
const steady = startSmtpLoad({
  servers: [server.smtpAddress],
  count: 100_000_000,
  connections: 2,
  to: `r@${E2E_DOMAIN}`,
  prefix: "s",
});
// Every 10 s: deferrals, bounces (then suppressions), API sends.
let batch = 0;
let apiSent = 0;
let apiRefused = 0;
const side: Promise<unknown>[] = [];
const sideLoad = setInterval(() => {
  batch++;
  for (const to of [`x${batch}@defer.test`, BOUNCE_ADDRESSES[batch % BOUNCE_ADDRESSES.length]]) {
    side.push(
      startSmtpLoad({ servers: [server.smtpAddress], count: 2, connections: 1, to, prefix: "b" })
        .result.catch(() => {}),
    );
  }
  for (let i = 0; i < 5; i++) {
    side.push(
      fetch(`${server.adminUrl}/api/v1/messages`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({
          from: "app@origin.test",
          to: [`api${i}@${E2E_DOMAIN}`],
          subject: `api ${batch}.${i}`,
          text: "soak",
        }),
      }).then(async (r) => {
        await r.body?.cancel();
        if (r.status === 202) apiSent++;
        else apiRefused++;
      }, () => apiRefused++),
    );
  }
}, 10_000);

function fileMb(path: string): number {
  let bytes = 0;
  for (const suffix of ["", "-wal", "-shm"]) {
    try {
      bytes += Deno.statSync(path + suffix).size;
    } catch {
      // not there
    }
  }
  return bytes / 1_048_576;
}

const samples: Sample[] = [];
let lastAccepted = 0;
let lastDelivered = 0;
console.log(
  "minute  accepted/s  delivered/s  RSS MB  fds  db MB  queued  deferred  failed  suppressed",
);
for (let minute = 1; minute <= minutes; minute++) {
  await new Promise((resolve) => setTimeout(resolve, 60_000)); // the sampling period
  const counts = JSON.parse(
    (await runCli(["queue", "--config", configPath, "--json"])).stdout,
  ) as Record<string, number>;
  const accepted = steady.acceptedCount;
  const sample: Sample = {
    minute,
    acceptedPerS: (accepted - lastAccepted) / 60,
    deliveredPerS: (delivered - lastDelivered) / 60,
    rssMb: readMem(server.pid, false).rssKb / 1024,
    fds: [...Deno.readDirSync(`/proc/${server.pid}/fd`)].length,
    dbMb: fileMb(dbPath),
    queued: counts.queued,
    deferred: counts.deferred,
    failed: counts.failed,
    suppressed: counts.suppressed,
  };
  lastAccepted = accepted;
  lastDelivered = delivered;
  samples.push(sample);
  console.log(
    [
      String(minute).padStart(6),
      sample.acceptedPerS.toFixed(0).padStart(10),
      sample.deliveredPerS.toFixed(0).padStart(12),
      sample.rssMb.toFixed(0).padStart(7),
      String(sample.fds).padStart(4),
      sample.dbMb.toFixed(1).padStart(6),
      String(sample.queued).padStart(7),
      String(sample.deferred).padStart(9),
      String(sample.failed).padStart(7),
      String(sample.suppressed).padStart(11),
    ].join(" "),
  );
}
clearInterval(sideLoad);
steady.stop();
await steady.result.catch(() => {});
await Promise.all(side);
clearInterval(countDelivered);

/** Least-squares slope of `ys` against their index (per minute). */
function slope(ys: number[]): number {
  const n = ys.length;
  if (n < 2) return 0;
  const mx = (n - 1) / 2;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0, den = 0;
  ys.forEach((y, x) => {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  });
  return num / den;
}
const steadyPart = samples.slice(1);
console.log(
  `\nsoak ${minutes} min: ${steady.acceptedCount} SMTP accepted, API ${apiSent} sent / ` +
    `${apiRefused} refused, ${batch} side batches; RSS ${samples[0]?.rssMb.toFixed(0)} → ` +
    `${samples.at(-1)?.rssMb.toFixed(0)} MB (slope after minute 1: ` +
    `${slope(steadyPart.map((s) => s.rssMb)).toFixed(2)} MB/min), fds ${samples[0]?.fds} → ` +
    `${samples.at(-1)?.fds} (slope ${slope(steadyPart.map((s) => s.fds)).toFixed(2)}/min), ` +
    `db ${samples.at(-1)?.dbMb.toFixed(1)} MB; load average ${Deno.loadavg().join(" ")}`,
);
await server.stop();
// The server's log, for what the numbers do not say (4xx reasons, stalls).
await Deno.mkdir(`${REPO}/bench/out`, { recursive: true });
const logPath = `${REPO}/bench/out/soak-${new Date().toISOString().replace(/[:.]/g, "-")}.log`;
await Deno.writeTextFile(logPath, e2e.logs());
console.log(`server log: ${logPath}`);
