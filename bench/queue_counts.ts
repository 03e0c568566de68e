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
import { type Kysely, sql } from "kysely";
import { createTestDatabase, type TestDatabaseKind } from "../tests/helpers/databases.ts";
import { migration0024 } from "../migrations/0024_recipient_totals.ts";
import type { Tables } from "../core/store/tables.ts";

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

/** The numbers 1..rows as a row source `g(n)` on each database. */
function series(kind: TestDatabaseKind) {
  if (kind === "postgres") return sql`generate_series(1, ${sql.lit(rows)}) as g(n)`;
  if (kind === "mysql") return sql`(select seq as n from ${sql.raw(`seq_1_to_${rows}`)}) as g`;
  return sql`g`;
}

async function median(f: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    await f();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

/** Each statement of `counts` alone, with its plan (BENCH_PARTS=1). */
async function parts(db: Kysely<Tables>, kind: TestDatabaseKind, now: number): Promise<void> {
  const statements = {
    open: sql`select state, count(*) from recipients where state in ('queued', 'deferred')
      group by state`,
    totals: sql`select state, sum(n) from recipient_totals group by state`,
    inFlight: sql`select count(*) from queue where state = 'queued' and lease_owner is not null
      and due_at > ${now}`,
    unconfirmed: sql`select state, count(*) from recipients where message_id in
      (select messages.id from messages where messages.unconfirmed_since is not null)
      group by state`,
  };
  for (const [name, statement] of Object.entries(statements)) {
    const ms = await median(() => statement.execute(db));
    const explain = kind === "sqlite3" ? sql`explain query plan ` : sql`explain `;
    const plan = await sql`${explain}${statement}`.execute(db);
    console.log(`  ${name} ${ms.toFixed(1)} ms`, JSON.stringify(plan.rows));
  }
}

for (const kind of kinds) {
  const db = await createTestDatabase(kind);
  const store = await db.open("admin");
  try {
    await store.migrate();
    const started = performance.now();
    const state = sql`case when n % 100 < ${sql.lit(delivered)} then 'delivered'
      when n % 100 = ${sql.lit(delivered)} then 'deferred' else 'queued' end`;
    // `prefix` and the number (MySQL's || is OR).
    const text = (prefix: string) =>
      kind === "mysql" ? sql`concat(${sql.lit(prefix)}, n)` : sql`${sql.lit(prefix)} || n`;
    const cte = kind === "sqlite3"
      ? sql`with recursive g(n) as (select 1 union all select n + 1 from g where n < ${
        sql.lit(rows)
      }) `
      : sql``;
    await sql`${cte}insert into recipients (unit_id, message_id, address, state, attempts,
      updated_at) select ${text("u")}, ${text("m")}, ${text("r")}, ${state}, 0, 0
      from ${series(kind)}`.execute(store.db);
    await store.db.schema.dropTable("recipient_totals").execute();
    await migration0024.up(store.db as unknown as Kysely<unknown>, store.dialect);
    if (kind === "postgres") await sql`vacuum analyze recipients`.execute(store.db);
    if (kind === "mysql") await sql`analyze table recipients`.execute(store.db);
    if (kind === "sqlite3") await sql`analyze`.execute(store.db);
    const fill = ((performance.now() - started) / 1000).toFixed(1);
    const now = Date.now();
    const fast = await median(() => store.counts(now));
    if (Deno.env.get("BENCH_PARTS")) await parts(store.db, kind, now);
    const full = await median(() =>
      store.db.selectFrom("recipients").select((eb) => ["state", eb.fn.countAll().as("n")])
        .groupBy("state").execute()
    );
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
