/**
 * Store throughput per database: group-committed inserts (messages/s), leasing (units/s) and
 * settling (units/s), in batches like the server's. Each database is fresh and dropped after.
 *
 *   deno run -A bench/store.ts [sqlite3|postgres|mysql …] [--messages N] [--batch N] [--recipients N]
 *
 * `--recipients N` gives every message N recipients at one domain (smtp-source -r N, issue 19's
 * 5k-20x10); settled outcomes get their own time per unit, as the server's do.
 */
import { parseArgs } from "node:util";
import { createTestDatabase, type TestDatabaseKind } from "../tests/helpers/databases.ts";
import type { NewMessage } from "../core/contracts/mod.ts";
import { deliveredOutcome, leaseAll } from "./store_units.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  options: {
    messages: { type: "string", default: "4000" },
    batch: { type: "string", default: "200" },
    recipients: { type: "string", default: "1" },
  },
  allowPositionals: true,
});
const total = Number(values.messages);
const batch = Number(values.batch);
const perMessage = Number(values.recipients);
const kinds =
  (positionals.length ? positionals : ["sqlite3", "postgres", "mysql"]) as TestDatabaseKind[];
const body = new TextEncoder().encode("Subject: bench\r\n\r\n" + "x".repeat(5_000) + "\r\n");

function rate(n: number, started: number): number {
  return Math.round(n / ((performance.now() - started) / 1000));
}

for (const kind of kinds) {
  const db = await createTestDatabase(kind);
  const store = await db.open("accept", 10);
  try {
    await store.migrate();
    const now = Date.now();
    let started = performance.now();
    for (let i = 0; i < total; i += batch) {
      const messages: NewMessage[] = [];
      for (let j = i; j < Math.min(total, i + batch); j++) {
        messages.push({
          id: `b${j}`,
          sender: "s@example.test",
          recipients: Array.from({ length: perMessage }, (_, k) => `r${j}-${k}@d${j % 100}.test`),
          channel: "smtp",
          clientIp: "127.0.0.1",
          receivedAt: now,
          body,
        });
      }
      await store.insertMessages(messages);
    }
    const insertRate = rate(total, started);

    started = performance.now();
    const units = await leaseAll(store, total, batch, now);
    const leaseRate = rate(units.length, started);

    started = performance.now();
    for (let i = 0; i < units.length; i += batch) {
      const outcomes = units.slice(i, i + batch).map((u, k) => deliveredOutcome(u, now + k));
      await store.settle(outcomes);
    }
    const settleRate = rate(units.length, started);
    console.log(
      `${
        kind.padEnd(8)
      } insert ${insertRate} msg/s, lease ${leaseRate} units/s, settle ${settleRate} units/s (batches of ${batch}, ${perMessage} recipient(s), 5 KB bodies)`,
    );
  } finally {
    await store.close();
    await db.drop();
  }
}
