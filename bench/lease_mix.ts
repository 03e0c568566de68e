/**
 * Delivery's reads on SQLite as the scheduler runs them per turn: lease a batch of 1–`--max-batch`
 * due units (seeded sizes), read their bodies' heads and their recipients' suppressions. Prints
 * that phase's CPU per leased unit and the statements SQLite prepared; TREE=/path/to/checkout measures another checkout's store (A/B). Under
 * `valgrind --tool=callgrind` its instruction counts do not depend on the machine's load.
 *
 *   deno run -A bench/lease_mix.ts --messages 3000 --rounds 3
 */
// deno-lint-ignore-file no-explicit-any
import { parseArgs } from "node:util";
import { countPrepares, cpuMicros, seededRandom, seedMessages } from "./sqlite_mix.ts";
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

const perUnit: number[] = [];
const prepares: number[] = [];
for (let round = 0; round < Number(values.rounds); round++) {
  const db = await createTestDatabase("sqlite3");
  const store = await db.open("deliver", 10);
  try {
    await store.migrate();
    const now = Date.now();
    await seedMessages(store, total, now, (j) => `b${j}@example.com`);
    const rnd = seededRandom(19);
    prepared.reset();
    const c0 = cpuMicros();
    let leased = 0;
    for (let turn = 0; leased < total; turn++) {
      const limit = 1 + Math.floor(rnd() * maxBatch);
      const units = await store.leaseDue({
        owner: "bench",
        token: `lease-${turn}`,
        now,
        leaseMs: 600_000,
        limit,
      });
      if (units.length === 0) break;
      await store.readBodyHeads(units.map((u: any) => u.messageId), 16_384);
      await store.suppressions(units.flatMap((u: any) => u.recipients), now, "example.test");
      leased += units.length;
    }
    perUnit.push((cpuMicros() - c0) / leased);
    prepares.push(prepared.count);
  } finally {
    await store.close();
    await db.drop();
  }
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log(
  `lease, heads, suppressions of ${total} units in batches of 1–${maxBatch}: CPU ${
    med(perUnit).toFixed(1)
  } µs per unit (rounds ${perUnit.map((x) => x.toFixed(0)).join(", ")}); prepared ${
    med(prepares)
  } statements`,
);
