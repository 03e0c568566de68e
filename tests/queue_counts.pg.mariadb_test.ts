/**
 * Queue counts against a full GROUP BY on PostgreSQL and MariaDB (the SQLite case:
 * tests/helpers/queue_counts_case.ts).
 */
import { countsMatchGroupBy } from "./helpers/queue_counts_case.ts";
import { testDatabaseKinds } from "./helpers/databases.ts";
import { withStore } from "./helpers/store_contract.ts";

for (const kind of testDatabaseKinds().filter((k) => k !== "sqlite3")) {
  Deno.test({
    name: `queue counts (${kind}) match a full GROUP BY after every kind of move`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => withStore(kind, countsMatchGroupBy),
  });
}
