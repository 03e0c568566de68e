/**
 * Units inserted leased at accept on PostgreSQL and MariaDB (the SQLite case and the rest:
 * tests/accept_lease_test.ts).
 */
import {
  crashedRunLeasesReturn,
  leasedAtAcceptWaitForTheirLease,
} from "./helpers/accept_lease_case.ts";
import { testDatabaseKinds } from "./helpers/databases.ts";
import { withStore } from "./helpers/store_contract.ts";

for (const kind of testDatabaseKinds().filter((k) => k !== "sqlite3")) {
  Deno.test({
    name: `units inserted leased at accept wait for their lease like leased units (${kind})`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => withStore(kind, leasedAtAcceptWaitForTheirLease),
  });
  Deno.test({
    name: `a crashed accepting run's unreported leases return, adopted ones stay (${kind})`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => withStore(kind, crashedRunLeasesReturn),
  });
}
