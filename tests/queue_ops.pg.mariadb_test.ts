/**
 * Queue operations on PostgreSQL and MariaDB (the same cases as SQLite:
 * tests/helpers/queue_ops_cases.ts): search filters, actions, bulk jobs and pauses, and the queue
 * views (tests/helpers/queue_view_cases.ts).
 */
import { QUEUE_OPS_CASES } from "./helpers/queue_ops_cases.ts";
import { QUEUE_VIEW_CASES } from "./helpers/queue_view_cases.ts";
import { testDatabaseKinds } from "./helpers/databases.ts";
import { withStore } from "./helpers/store_contract.ts";

for (const kind of testDatabaseKinds().filter((k) => k !== "sqlite3")) {
  for (const [name, fn] of Object.entries({ ...QUEUE_OPS_CASES, ...QUEUE_VIEW_CASES })) {
    Deno.test({
      name: `queue ops (${kind}): ${name}`,
      sanitizeOps: false,
      sanitizeResources: false,
      fn: () => withStore(kind, fn),
    });
  }
}
