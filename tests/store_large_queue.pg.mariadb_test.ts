/**
 * Large-queue behaviour: with 200 000 rows in `queue`, the statement `leaseDue` runs (exactly
 * that one, from `dueUnitsQuery`) must read the `queue_state_due` index, not scan the table, on
 * every database; so must "next due time" and "units for one domain" (`queue_domain_state`).
 * Checked with the database's own EXPLAIN after ANALYZE, on a realistic mix: most units done,
 * the rest queued with due times spread over the next day, a few hundred due now.
 */
import { CompiledQuery, type Insertable, type Kysely } from "kysely";
import { assert, assertEquals } from "./helpers/assert.ts";
import { createTestDatabase, testDatabaseKinds } from "./helpers/databases.ts";
import { dueUnitsQuery, type SqlStore } from "../core/store/mod.ts";
import { PG_TYPES, unitRecipientsQuery } from "../core/store/sql_store.ts";
import { insertRowsQuery } from "../core/store/bulk_insert.ts";
import type { QueueTable, RecipientsTable, Tables } from "../core/store/tables.ts";

const ROWS = 200_000;
const NOW = 1_750_000_000_000;
const INSERT_ROWS = 2_000;

/** Inserts the rows with multi-row statements; returns rows per second. */
async function fill(db: Kysely<Tables>, dialect: SqlStore["dialect"]): Promise<number> {
  const started = performance.now();
  for (let start = 0; start < ROWS; start += INSERT_ROWS) {
    const rows: Insertable<QueueTable>[] = [];
    for (let i = start; i < Math.min(ROWS, start + INSERT_ROWS); i++) {
      const done = i % 4 !== 0; // 75 % delivered, 25 % still queued
      // Queued units: due over the next 24 h; every 200th is due already.
      const due = done || i % 200 === 0 ? NOW - (i % 1000) * 1000 : NOW + (i % 86_400) * 1000;
      rows.push({
        id: `m${i.toString(36).padStart(8, "0")}.0`,
        message_id: `m${i.toString(36).padStart(8, "0")}`,
        domain: `d${i % 5_000}.example`,
        state: done ? "done" : "queued",
        due_at: due,
        attempts: done ? 1 : 0,
        lease_owner: null,
        lease_token: null,
        created_at: NOW - 86_400_000,
        updated_at: NOW,
        last_reply: done ? "250 ok" : null,
      });
    }
    await db.executeQuery(insertRowsQuery(dialect, "queue", rows, PG_TYPES.queue));
  }
  return ROWS / ((performance.now() - started) / 1000);
}

function unitId(i: number): string {
  return `m${i.toString(36).padStart(8, "0")}.0`;
}

/** One recipient per queue row, open where the unit is queued. */
async function fillRecipients(db: Kysely<Tables>, dialect: SqlStore["dialect"]) {
  for (let start = 0; start < ROWS; start += INSERT_ROWS) {
    const rows: Omit<Insertable<RecipientsTable>, "category" | "dsn">[] = [];
    for (let i = start; i < Math.min(ROWS, start + INSERT_ROWS); i++) {
      const done = i % 4 !== 0;
      rows.push({
        unit_id: unitId(i),
        message_id: `m${i.toString(36).padStart(8, "0")}`,
        address: `r${i}@d${i % 5_000}.example`,
        state: done ? "delivered" : "queued",
        attempts: done ? 1 : 0,
        last_code: null,
        last_reply: null,
        updated_at: NOW,
      });
    }
    await db.executeQuery(insertRowsQuery(dialect, "recipients", rows, PG_TYPES.recipients));
  }
}

async function analyze(store: SqlStore) {
  const statement = store.dialect === "mysql" ? "analyze table queue" : "analyze queue";
  await store.db.executeQuery(CompiledQuery.raw(statement));
}

/** The plan of `query` as one string, in the database's own words. */
async function explain(store: SqlStore, query: CompiledQuery<unknown>): Promise<string> {
  const prefix = store.dialect === "sqlite3" ? "explain query plan " : "explain ";
  const result = await store.db.executeQuery(
    CompiledQuery.raw(prefix + query.sql, [...query.parameters]),
  );
  return result.rows.map((row) => JSON.stringify(row)).join("\n");
}

/** Fails unless `plan` reads `index` and never scans `queue` whole. */
function assertUsesIndex(dialect: string, plan: string, index: string) {
  assert(plan.includes(index), `${dialect}: plan does not use ${index}:\n${plan}`);
  const fullScan = dialect === "postgres"
    ? /Seq Scan on queue/
    : dialect === "mysql"
    ? /"type":"ALL"/
    : /"detail":"SCAN queue"/;
  assert(!fullScan.test(plan), `${dialect}: plan scans the whole queue:\n${plan}`);
}

for (const kind of testDatabaseKinds()) {
  Deno.test(`large queue [${kind}]: due, next-due and per-domain queries use indexes`, async () => {
    const db = await createTestDatabase(kind);
    try {
      const store = await db.open("admin");
      try {
        await store.migrate();
        const rate = await fill(store.db, store.dialect);
        await analyze(store);
        console.log(`  ${kind}: inserted ${ROWS} queue rows at ${Math.round(rate)} rows/s`);

        const due = dueUnitsQuery(store.db, store.dialect, NOW, 200);
        assertUsesIndex(kind, await explain(store, due), "queue_state_due");
        if (kind === "postgres") {
          // Prepared statements may switch to a generic plan after five runs: check that too.
          await store.db.connection().execute(async (conn) => {
            await conn.executeQuery(CompiledQuery.raw("set plan_cache_mode = force_generic_plan"));
            const result = await conn.executeQuery(
              CompiledQuery.raw(`explain ${due.sql}`, [...due.parameters]),
            );
            const plan = result.rows.map((row) => JSON.stringify(row)).join("\n");
            await conn.executeQuery(CompiledQuery.raw("reset plan_cache_mode"));
            assertUsesIndex(kind, plan, "queue_state_due");
          });
        }

        let next = store.db.selectFrom("queue").select("due_at")
          .where("state", "=", "queued").orderBy("due_at");
        next = next.limit(1);
        assertUsesIndex(kind, await explain(store, next.compile()), "queue_state_due");

        const forDomain = store.db.selectFrom("queue").select(["id", "due_at"])
          .where("domain", "=", "d42.example").where("state", "=", "queued");
        assertUsesIndex(kind, await explain(store, forDomain.compile()), "queue_domain_state");

        // A lease batch's recipients: by recipients_unit, never through every open recipient
        // (recipients_state), or each lease would cost more as the queue grows.
        await fillRecipients(store.db, store.dialect);
        await store.db.executeQuery(
          CompiledQuery.raw(kind === "mysql" ? "analyze table recipients" : "analyze recipients"),
        );
        const unitIds = Array.from({ length: 200 }, (_, i) => unitId(i * 4));
        const recipientsPlan = await explain(store, unitRecipientsQuery(store.db, unitIds));
        assert(
          recipientsPlan.includes("recipients_unit") &&
            !recipientsPlan.includes("recipients_state"),
          `${kind}: lease's recipients query does not read recipients_unit:\n${recipientsPlan}`,
        );

        // And the real call: the 1 000 due units (every 200th of 200 000), oldest first.
        const started = performance.now();
        const units = await store.db.transaction().execute(async (trx) =>
          (await trx.executeQuery(dueUnitsQuery(trx, store.dialect, NOW, 5_000))).rows
        );
        const ms = performance.now() - started;
        console.log(`  ${kind}: due query over ${ROWS} rows took ${ms.toFixed(1)} ms`);
        assertEquals(units.length, ROWS / 200);
      } finally {
        await store.close();
      }
    } finally {
      await db.drop();
    }
  });
}
