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
import { DatabaseSync } from "node:sqlite";
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
const maxBatch = Number(values["max-batch"]);

// Counts what SQLite is asked to prepare (the statement cache's misses).
let prepared = 0;
const prepare = (DatabaseSync.prototype as any).prepare;
(DatabaseSync.prototype as any).prepare = function (sql: string) {
  prepared++;
  return prepare.call(this, sql);
};

/** A small seeded generator (mulberry32): the same batches in every tree. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const body = new TextEncoder().encode("Subject: bench\r\n\r\n" + "x".repeat(5_000) + "\r\n");
const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const perUnit: number[] = [];
const prepares: number[] = [];
for (let round = 0; round < Number(values.rounds); round++) {
  const db = await createTestDatabase("sqlite3");
  const store = await db.open("deliver", 10);
  try {
    await store.migrate();
    const now = Date.now();
    for (let i = 0; i < total; i += 20) {
      const messages = [];
      for (let j = i; j < Math.min(total, i + 20); j++) {
        messages.push({
          id: `b${String(j).padStart(6, "0")}`,
          sender: "s@example.test",
          recipients: [`b${j}@example.com`],
          channel: "smtp",
          clientIp: "127.0.0.1",
          receivedAt: now,
          body,
        });
      }
      await store.insertMessages(messages);
    }
    const rnd = random(19);
    prepared = 0;
    const c0 = cpu();
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
    perUnit.push((cpu() - c0) / leased);
    prepares.push(prepared);
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
