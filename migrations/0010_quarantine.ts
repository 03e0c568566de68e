/**
 * 0010: handling failures and quarantine (core/store/quarantine.ts, docs/quarantine.md).
 * - queue.failures: how often handling this unit threw (dispatch, delivery, settle, the broker
 *   consumer) — not delivery attempts, which `attempts` counts. Kept in the database so the
 *   count survives restarts and is the same on every node.
 * - queue.failure_reason: the last such error ("dispatch: Maximum call stack size exceeded").
 * - queue.quarantined_at: set with `state = 'quarantined'` once `failures` reached
 *   `queue.quarantine_after`: the unit is neither leased nor consumed until an operator
 *   releases or cancels it.
 * - recipients.dsn_failures: the same count for building a recipient's DSN; at the limit its
 *   `dsn` becomes 'quarantined'.
 * One ALTER per column: SQLite takes one ADD COLUMN per statement.
 */
import type { Kysely } from "kysely";
import { columnType, type Dialect, type FastmtaMigration } from "./_types.ts";

async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema.alterTable("queue")
    .addColumn("failures", "integer", (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable("queue")
    .addColumn("failure_reason", columnType(dialect, "text")).execute();
  await db.schema.alterTable("queue")
    .addColumn("quarantined_at", columnType(dialect, "bigint")).execute();
  await db.schema.alterTable("recipients")
    .addColumn("dsn_failures", "integer", (c) => c.notNull().defaultTo(0)).execute();
}

/** Failure counts and the quarantine state of units and DSNs. */
export const migration0010: FastmtaMigration = { up };
