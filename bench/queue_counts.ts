/**
 * The queue counts (`store.counts`, core/store/views.ts) at scale on each database, against the
 * full GROUP BY they replaced: N recipient rows generated in SQL (P% delivered, default 1, 1%
 * deferred, the rest queued: by default the worst case for the live count of open states), the
 * totals seeded as migration 0024 does, then R timed calls of each. BENCH_PARTS=1 also times
 * each statement of `counts` alone with its plan. Each database is fresh and dropped after.
 *
 *   deno run -A bench/queue_counts.ts [sqlite3|postgres|mysql …] [--rows N] [--runs R]
 *     [--delivered P]
 */
import { parseArgs } from "node:util";
import { createTestDatabase, type TestDatabaseKind } from "../tests/helpers/databases.ts";
import { countsParts, fillRecipients, fullGroupBy } from "../tests/helpers/queue_counts_fill.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  options: {
    rows: { type: "string", default: "1000000" },
    runs: { type: "string", default: "10" },
    delivered: { type: "string", default: "1" },
  },
  allowPositionals: true,
});
const rows = Number(values.rows);
const runs = Number(values.runs);
const delivered = Number(values.delivered);
const kinds =
  (positionals.length ? positionals : ["sqlite3", "postgres", "mysql"]) as TestDatabaseKind[];

async function median(f: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    await f();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

for (const kind of kinds) {
  const db = await createTestDatabase(kind);
  const store = await db.open("admin");
  try {
    await store.migrate();
    const started = performance.now();
    await fillRecipients(store, kind, { rows, delivered });
    const fill = ((performance.now() - started) / 1000).toFixed(1);
    const now = Date.now();
    const fast = await median(() => store.counts(now));
    if (Deno.env.get("BENCH_PARTS")) await countsParts(store, kind, now, median);
    const full = await median(() => fullGroupBy(store));
    console.log(
      `${
        kind.padEnd(8)
      } ${rows} recipients, ${delivered}% delivered (filled in ${fill} s): counts ${
        fast.toFixed(1)
      } ms, full GROUP BY ${full.toFixed(1)} ms (median of ${runs})`,
    );
  } finally {
    await store.close();
    await db.drop();
  }
}
