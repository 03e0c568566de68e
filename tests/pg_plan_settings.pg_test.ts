/**
 * How PostgreSQL plans each store's statements (core/store/postgres_dialect.ts): the accept role
 * and delivery (which insert and touch rows by key) plan once, generically, without sequential
 * scans where an index serves; every other store plans each statement for its parameters.
 */
import { sql } from "kysely";
import { assertEquals } from "./helpers/assert.ts";
import { createTestDatabase } from "./helpers/databases.ts";
import { openStore, type OpenStoreOptions, type StoreRole } from "../core/store/mod.ts";

const CASES: [StoreRole, OpenStoreOptions, string, string][] = [
  ["accept", {}, "force_generic_plan", "off"],
  ["deliver", { byKeyOnly: true }, "force_generic_plan", "off"],
  ["deliver", {}, "force_custom_plan", "on"],
  ["admin", {}, "force_custom_plan", "on"],
];

Deno.test("PostgreSQL: by-key stores plan generically, the others per parameters", async () => {
  await using database = await createTestDatabase("postgres");
  for (const [role, options, mode, seqscan] of CASES) {
    const store = await openStore(database.config(), role, options);
    try {
      const { rows } = await sql<{ mode: string; seqscan: string }>`select
        current_setting('plan_cache_mode') as mode, current_setting('enable_seqscan') as seqscan`
        .execute(store.db);
      assertEquals(rows[0], { mode, seqscan }, `${role} ${JSON.stringify(options)}`);
    } finally {
      await store.close();
    }
  }
});
