/** Queue counts against a full GROUP BY on SQLite (tests/helpers/queue_counts_case.ts). */
import { countsMatchGroupBy } from "./helpers/queue_counts_case.ts";
import { withStore } from "./helpers/store_contract.ts";

Deno.test({
  name: "queue counts (sqlite3) match a full GROUP BY after every kind of move",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => withStore("sqlite3", countsMatchGroupBy),
});
