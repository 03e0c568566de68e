/**
 * What building events nobody writes costs (issue 19): settled outcomes of `--recipients` results
 * each go through `emitOutcomes` into the main thread's hub with no writer (the default: no
 * accounting log, no webhook), once with the hub's `wants` filter (only what a writer takes is
 * built) and once through a sink without it (every event built, buffered, then dropped: before
 * session 12). Alternates the two `--rounds` times; prints CPU µs per outcome for each.
 *
 *   deno run -A bench/events_build.ts --outcomes 20000 --recipients 10 --rounds 5
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { EventHub } from "../core/events/hub.ts";
import { emitOutcomes } from "../core/events/build.ts";
import { setEventSink } from "../core/events/emit.ts";
import type { UnitOutcome } from "../core/contracts/mod.ts";

const { values } = parseArgs({
  options: {
    outcomes: { type: "string", default: "20000" },
    recipients: { type: "string", default: "10" },
    rounds: { type: "string", default: "5" },
  },
});
const outcomes = Number(values.outcomes);
const recipients = Number(values.recipients);
const config = {
  events: { enabled: true, buffer_size: 20_000, flush_interval: 200, accounting: {} },
} as unknown as ConstructorParameters<typeof EventHub>[0]["config"];

function outcome(i: number): UnitOutcome {
  return {
    unitId: `u${i}`,
    messageId: `m${i}`,
    domain: "example.com",
    leaseToken: "t",
    at: Date.now(),
    durationMs: 3,
    sourceIp: "127.0.0.1",
    mxHost: "mx.example.com",
    remoteIp: "127.0.0.3",
    tls: false,
    results: Array.from({ length: recipients }, (_, r) => ({
      address: `r${r}@example.com`,
      outcome: "delivered" as const,
      code: 250,
      reply: "250 2.0.0 Ok",
    })),
    kind: "final",
  };
}

async function round(filtered: boolean): Promise<number> {
  const hub = new EventHub({
    config,
    store: { enqueueWebhookEvents: () => Promise.resolve() },
    log: () => {},
  });
  hub.setWebhooks([]);
  setEventSink(filtered ? hub : { push: (e) => hub.push(e) }, "bench");
  const before = process.cpuUsage();
  for (let i = 0; i < outcomes; i += 100) {
    const batch = Array.from({ length: 100 }, (_, k) => outcome(i + k));
    emitOutcomes(batch);
    await new Promise((r) => setTimeout(r, 0)); // let the hub's flush timer run, as a server does
  }
  await hub.close();
  const after = process.cpuUsage();
  setEventSink(null);
  return (after.user - before.user + after.system - before.system) / outcomes;
}

const rows: { filtered: number; all: number }[] = [];
await round(true); // warm-up
await round(false);
for (let i = 0; i < Number(values.rounds); i++) {
  const all = await round(false);
  const filtered = await round(true);
  rows.push({ all, filtered });
}
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`outcomes ${outcomes} × ${recipients} recipients, CPU µs per outcome (process)`);
for (const r of rows) {
  console.log(`  all built ${r.all.toFixed(1)}  filtered ${r.filtered.toFixed(1)}`);
}
console.log(
  `median: all built ${median(rows.map((r) => r.all)).toFixed(1)}, filtered ${
    median(rows.map((r) => r.filtered)).toFixed(1)
  } (the outcome objects themselves are built in both)`,
);
