/** The management plane's object service on SQLite (cases: tests/helpers/manage_cases.ts). */
import { MANAGE_CASES } from "./helpers/manage_cases.ts";
import { withStore } from "./helpers/store_contract.ts";

for (const [name, fn] of Object.entries(MANAGE_CASES)) {
  Deno.test({
    name: `manage objects (sqlite3): ${name}`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => withStore("sqlite3", fn),
  });
}
