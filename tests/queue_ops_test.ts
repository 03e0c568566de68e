/** Queue operations on SQLite (cases: tests/helpers/queue_ops_cases.ts). */
import { QUEUE_OPS_CASES } from "./helpers/queue_ops_cases.ts";
import { withStore } from "./helpers/store_contract.ts";

for (const [name, fn] of Object.entries(QUEUE_OPS_CASES)) {
  Deno.test({
    name: `queue ops (sqlite3): ${name}`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => withStore("sqlite3", fn),
  });
}
