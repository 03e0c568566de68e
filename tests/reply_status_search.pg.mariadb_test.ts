/**
 * Reply search by code and enhanced status on PostgreSQL and MariaDB (the case SQLite runs in
 * tests/reply_status_search_test.ts): settle writes both columns in its batched CASE update, and
 * search matches them; plans on a table this small are the planner's choice, so they are
 * measured in `deno task bench:queue` instead.
 */
import { testDatabaseKinds } from "./helpers/databases.ts";
import { replySearchCase } from "./helpers/reply_search_case.ts";
import { withStore } from "./helpers/store_contract.ts";

for (const kind of testDatabaseKinds().filter((k) => k !== "sqlite3")) {
  Deno.test({
    name: `reply search (${kind}): code and enhanced status`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => withStore(kind, replySearchCase),
  });
}
