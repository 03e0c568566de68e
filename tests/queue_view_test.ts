/** Queue views on SQLite (cases: tests/helpers/queue_view_cases.ts). */
import { QUEUE_VIEW_CASES } from "./helpers/queue_view_cases.ts";
import { withStore } from "./helpers/store_contract.ts";

for (const [name, fn] of Object.entries(QUEUE_VIEW_CASES)) {
  Deno.test({
    name: `queue views (sqlite3): ${name}`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => withStore("sqlite3", fn),
  });
}
