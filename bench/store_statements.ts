/**
 * The store loop of bench/store.ts on SQLite with the time of every statement, by its shape
 * (phase I insert, L lease, S settle; IN and VALUES lists folded), and the CPU per message of
 * each phase (medians of --rounds fresh databases); TREE=/path/to/checkout measures another
 * checkout's store (A/B). Issue 19.
 *
 *   deno run -A --config deno.json bench/store_statements.ts --recipients 10 --rounds 3
 *
 * Statement times are wall time inside node:sqlite (COMMIT includes its fsync).
 */
// deno-lint-ignore-file no-explicit-any
import { parseArgs } from "node:util";
import { StatementSync } from "node:sqlite";
import { deliveredOutcome, leaseAll } from "./store_units.ts";
const root = Deno.env.get("TREE") ?? new URL("..", import.meta.url).pathname;
const { createTestDatabase } = await import(`${root}/tests/helpers/databases.ts`);

const { values } = parseArgs({
  args: Deno.args,
  options: {
    messages: { type: "string", default: "3000" },
    batch: { type: "string", default: "20" },
    recipients: { type: "string", default: "10" },
    rounds: { type: "string", default: "1" },
  },
});
const total = Number(values.messages),
  batch = Number(values.batch),
  per = Number(values.recipients);
const times = new Map<string, { n: number; us: number }>();
let phase = "";
function shape(s: string): string {
  return phase + " " + s.replace(/\(\?(, \?)*\)/g, "(…)").replace(/(\(…\), )+/g, "").slice(0, 70);
}
for (const m of ["all", "run", "iterate", "get"] as const) {
  const orig = (StatementSync.prototype as any)[m];
  (StatementSync.prototype as any)[m] = function (...args: unknown[]) {
    const t = performance.now();
    try {
      return orig.apply(this, args);
    } finally {
      const k = shape((this as any).sourceSQL ?? "?");
      const e = times.get(k) ?? { n: 0, us: 0 };
      e.n++;
      e.us += (performance.now() - t) * 1000;
      times.set(k, e);
    }
  };
}
const body = new TextEncoder().encode("Subject: bench\r\n\r\n" + "x".repeat(5_000) + "\r\n");
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system);
};
const phases: Record<string, number[]> = { insert: [], lease: [], settle: [] };
for (let round = 0; round < Number(values.rounds); round++) {
  const db = await createTestDatabase("sqlite3");
  const store = await db.open("accept", 10);
  try {
    await store.migrate();
    times.clear();
    const now = Date.now();
    phase = "I";
    let c0 = cpu();
    for (let i = 0; i < total; i += batch) {
      const messages = [];
      for (let j = i; j < Math.min(total, i + batch); j++) {
        messages.push({
          id: `b${String(j).padStart(6, "0")}`,
          sender: "s@example.test",
          recipients: Array.from({ length: per }, (_, k) => `${k}b@example.com`),
          channel: "smtp",
          clientIp: "127.0.0.1",
          receivedAt: now,
          body,
        });
      }
      await store.insertMessages(messages);
    }
    phases.insert.push((cpu() - c0) / total);
    phase = "L";
    c0 = cpu();
    const units = await leaseAll(store, total, batch, now);
    phases.lease.push((cpu() - c0) / total);
    phase = "S";
    c0 = cpu();
    for (let i = 0; i < units.length; i += batch) {
      const outcomes = units.slice(i, i + batch).map((u, k) => deliveredOutcome(u, now + k));
      await store.settle(outcomes);
    }
    phases.settle.push((cpu() - c0) / total);
  } finally {
    await store.close();
    await db.drop();
  }
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log(
  `recipients ${per}, batch ${batch}, messages ${total}`,
);
console.log(
  `CPU µs/msg: insert ${med(phases.insert).toFixed(0)} lease ${
    med(phases.lease).toFixed(0)
  } settle ${med(phases.settle).toFixed(0)} (all rounds: ${
    JSON.stringify(Object.fromEntries(
      Object.entries(phases).map(([k, v]) => [
        k,
        v.map((x) => Math.round(x)),
      ]),
    ))
  })`,
);
const rows = [...times].sort((a, b) => b[1].us - a[1].us).slice(0, 25);
for (const [k, v] of rows) {
  console.log(
    `${(v.us / total / Number(values.rounds)).toFixed(1).padStart(7)} µs/msg  ${
      String(v.n).padStart(6)
    }  ${k}`,
  );
}
