/**
 * The management plane's object service on PostgreSQL and MariaDB (the same cases as SQLite:
 * tests/helpers/manage_cases.ts), so the version check, the counter bump and the audit row are
 * one transaction on every server database.
 */
import { MANAGE_CASES } from "./helpers/manage_cases.ts";
import { testDatabaseKinds } from "./helpers/databases.ts";
import { withStore } from "./helpers/store_contract.ts";

for (const kind of testDatabaseKinds().filter((k) => k !== "sqlite3")) {
  for (const [name, fn] of Object.entries(MANAGE_CASES)) {
    Deno.test({
      name: `manage objects (${kind}): ${name}`,
      sanitizeOps: false,
      sanitizeResources: false,
      fn: () => withStore(kind, fn),
    });
  }
}
