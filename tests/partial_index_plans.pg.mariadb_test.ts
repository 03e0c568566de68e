/**
 * The search indexes made partial by migration 0026 (`WHERE col IS NOT NULL`) are still the ones
 * the store's queries read: each query compares the column with a value, which the planner must
 * see implies IS NOT NULL. SQLite shows it with EXPLAIN QUERY PLAN (no statistics, as fastmta
 * runs it); PostgreSQL with EXPLAIN on a database with sequential scans off (the tables here are
 * tiny, so otherwise a scan would win whichever indexes exist). MariaDB has no partial indexes:
 * there the indexes are checked to be the full ones still.
 */
import { CompiledQuery, sql } from "kysely";
import { assert, assertEquals } from "./helpers/assert.ts";
import { adminQuery, createTestDatabase, testDatabaseKinds } from "./helpers/databases.ts";
import type { SqlStore } from "../core/store/mod.ts";
import type { UnitFilter } from "../core/store/queue_search.ts";
import { PARTIAL_SEARCH_INDEXES } from "../migrations/0026_partial_search_indexes.ts";

/** A search filter of the admin API and the index its plan must read. */
const SEARCHES: [UnitFilter, string][] = [
  [{ pool: "bulk" }, "messages_pool"],
  [{ tag: "newsletter" }, "messages_tag"],
  [{ apiKey: "sender-key" }, "messages_api_key"],
  [{ reply: "451" }, "queue_reply_code_id"],
  [{ reply: "4.7.1" }, "queue_reply_status_id"],
  [{ sourceIp: "192.0.2.1" }, "attempts_source_at"],
];

/**
 * The store's other comparisons on those columns (core/store/) and their index. Each is alone
 * in its WHERE here: beside another indexed condition (`state = 'queued'`) which index a plan
 * reads is the planner's choice, partial or not; this asserts the partial index can serve it.
 */
function storeQueries(store: SqlStore): [CompiledQuery, string][] {
  const { db } = store;
  const units = db.selectFrom("queue").select("id");
  return [
    // units.ts: the units a resumed pause releases.
    [units.where("held", "=", "paused").compile(), "queue_held_id"],
    // units_settle.ts, queue_ops.ts, quarantine.ts: a unit still under its lease.
    [units.where("lease_token", "=", "t-1").compile(), "queue_lease_token"],
    // units_lease.ts: the units leased at accept under several tokens.
    [units.where("lease_token", "in", ["t-1", "t-2"]).compile(), "queue_lease_token"],
    // body_spool.ts: where a segment's last indexed body ends.
    [
      db.selectFrom("messages").select(sql<number>`max(body_offset + size)`.as("end"))
        .where("body_segment", "=", "seg-1").compile(),
      "messages_body_segment",
    ],
  ];
}

async function planOf(store: SqlStore, query: CompiledQuery): Promise<string> {
  const prefix = store.dialect === "sqlite3" ? "explain query plan " : "explain ";
  const { rows } = await store.db.executeQuery<Record<string, unknown>>(
    CompiledQuery.raw(prefix + query.sql, [...query.parameters]),
  );
  return rows.map((r) => String(r.detail ?? r["QUERY PLAN"] ?? JSON.stringify(r))).join("\n");
}

for (const kind of testDatabaseKinds()) {
  Deno.test({
    name: `partial search indexes (${kind}): the queries still read them`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      await using db = await createTestDatabase(kind);
      if (kind === "postgres") {
        await adminQuery("postgres", `alter database ${db.name} set enable_seqscan = off`);
      }
      const store = await db.open("deliver", 1);
      try {
        await store.migrate();
        if (kind === "mysql") {
          const names = PARTIAL_SEARCH_INDEXES.map(([name]) => `'${name}'`).join(", ");
          const rows = await store.db.executeQuery<{ n: number }>(CompiledQuery.raw(
            `select count(distinct index_name) as n from information_schema.statistics ` +
              `where table_schema = database() and index_name in (${names})`,
          ));
          assertEquals(Number(rows.rows[0].n), PARTIAL_SEARCH_INDEXES.length);
          return;
        }
        const definitions = await store.db.executeQuery<{ name: string; sql: string }>(
          CompiledQuery.raw(
            kind === "sqlite3"
              ? `select name, sql from sqlite_master where type = 'index'`
              : `select indexname as name, indexdef as sql from pg_indexes ` +
                `where schemaname = current_schema()`,
          ),
        );
        for (const [name, , columns] of PARTIAL_SEARCH_INDEXES) {
          const definition = definitions.rows.find((r) => r.name === name)?.sql ?? "(none)";
          assert(/where \(?"?\w+"? is not null\)?$/i.test(definition), definition);
          assert(definition.includes(columns[0]), definition);
        }
        for (const [filter, index] of SEARCHES) {
          const plan = (await store.explainSearch(filter)).join("\n");
          assert(plan.includes(index), `${JSON.stringify(filter)} should read ${index}:\n${plan}`);
        }
        for (const [query, index] of storeQueries(store)) {
          const plan = await planOf(store, query);
          assert(plan.includes(index), `${query.sql} should read ${index}:\n${plan}`);
        }
      } finally {
        await store.close();
      }
    },
  });
}
