/**
 * Settle on SQLite with the realistic bench's mix of verdicts: batches of 1–`--max-batch`
 * outcomes (seeded sizes), 5 % deferred (451, a retry time), 2 % failed (550, a DSN due), the
 * rest delivered. Prints the settle phase's CPU per outcome and the statements SQLite prepared
 * (texts and characters); TREE=/path/to/checkout measures another checkout's store (A/B). Under
 * `valgrind --tool=callgrind` its instruction counts do not depend on the machine's load.
 *
 *   deno run -A bench/settle_mix.ts --messages 3000 --rounds 3
 */
import { parseArgs } from "node:util";
import { countPrepares, cpuMicros, seededRandom, seedMessages } from "./sqlite_mix.ts";
import type { UnitOutcome } from "../core/contracts/mod.ts";
import { deliveredOutcome, leaseAll } from "./store_units.ts";
const root = Deno.env.get("TREE") ?? new URL("..", import.meta.url).pathname;
const { createTestDatabase } = await import(`${root}/tests/helpers/databases.ts`);

const { values } = parseArgs({
  args: Deno.args,
  options: {
    messages: { type: "string", default: "3000" },
    "max-batch": { type: "string", default: "30" },
    rounds: { type: "string", default: "1" },
  },
});
const total = Number(values.messages);
const prepared = countPrepares();
const maxBatch = Number(values["max-batch"]);

/** The outcome of `unit` for the verdict drawn (`r` in [0, 1)). */
function outcomeOf(unit: Parameters<typeof deliveredOutcome>[0], at: number, r: number) {
  const delivered = deliveredOutcome(unit, at);
  if (r < 0.05) {
    return {
      ...delivered,
      kind: "deferred",
      retryAt: at + 1_000,
      reason: "remote",
      results: delivered.results.map((x) => ({
        ...x,
        outcome: "deferred",
        code: 451,
        reply: "451 4.3.0 Try again later (bench sink)",
      })),
    } as UnitOutcome;
  }
  if (r < 0.07) {
    return {
      ...delivered,
      results: delivered.results.map((x) => ({
        ...x,
        outcome: "failed",
        code: 550,
        reply: "550 5.7.1 Message refused by policy (bench sink)",
        category: "policy",
      })),
    } as UnitOutcome;
  }
  return delivered;
}

const settleUs: number[] = [];
const prepares: number[] = [];
const chars: number[] = [];
for (let round = 0; round < Number(values.rounds); round++) {
  const db = await createTestDatabase("sqlite3");
  const store = await db.open("accept", 10);
  try {
    await store.migrate();
    const now = Date.now();
    await seedMessages(store, total, now, () => "b@example.com");
    const units = await leaseAll(store, total, 200, now);
    const rnd = seededRandom(19);
    prepared.reset();
    const c0 = cpuMicros();
    for (let i = 0; i < units.length;) {
      const n = 1 + Math.floor(rnd() * maxBatch);
      const outcomes = units.slice(i, i + n).map((u, k) => outcomeOf(u, now + i + k, rnd()));
      await store.settle(outcomes);
      i += n;
    }
    settleUs.push((cpuMicros() - c0) / units.length);
    prepares.push(prepared.count);
    chars.push(prepared.chars);
  } finally {
    await store.close();
    await db.drop();
  }
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log(
  `settle of ${total} outcomes in batches of 1–${maxBatch}: CPU ${
    med(settleUs).toFixed(1)
  } µs per outcome (rounds ${settleUs.map((x) => x.toFixed(0)).join(", ")}); prepared ${
    med(prepares)
  } statements, ${med(chars)} characters of SQL`,
);
