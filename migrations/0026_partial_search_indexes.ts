/**
 * 0026: the search indexes on columns that stay NULL for most rows become partial indexes of the
 * non-null values (issue 19), as 0025 did for `recipients_dsn`. On the relay path a message has
 * no API key, pool or tag, a unit is neither held nor (once settled) leased and has no reply
 * until its settle, an attempt has no source IP unless a vmta binds one, and a message has no
 * segment unless the body spool is on: each full index took a B-tree insert (and at settle a
 * move) per row for a NULL key no query asks for. Every query of these indexes compares the
 * column with a value (`=`, `in`, `like`, `is not null`: core/store/queue_search.ts, units*.ts,
 * quarantine.ts, queue_ops.ts, body_spool.ts, views.ts), which implies IS NOT NULL, so the
 * planners still use them (tests/partial_index_plans.pg.mariadb_test.ts). The search for units
 * that are not held (`held is null`) reads `queue_state_id` instead. SQLite, PostgreSQL and SQL
 * Server (a filtered index) take `WHERE col IS NOT NULL`; MySQL/MariaDB have no partial indexes
 * and keep the full ones. Rebuilding reads each table once: on a large queue it takes a while.
 */
import { type Kysely, sql } from "kysely";
import type { Dialect, FastmtaMigration } from "./_types.ts";

/** Index, table, columns; the first column is the one that is mostly NULL. */
export const PARTIAL_SEARCH_INDEXES: readonly [string, string, readonly string[]][] = [
  ["messages_api_key", "messages", ["api_key", "id"]],
  ["messages_pool", "messages", ["pool", "id"]],
  ["messages_tag", "messages", ["tag", "id"]],
  ["messages_body_segment", "messages", ["body_segment"]],
  ["queue_held_id", "queue", ["held", "id"]],
  ["queue_lease_token", "queue", ["lease_token"]],
  ["queue_reply_code_id", "queue", ["reply_code", "id"]],
  ["queue_reply_status_id", "queue", ["reply_status", "id"]],
  ["attempts_source_at", "attempts", ["source_ip", "at"]],
];

async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  if (dialect === "mysql") return;
  for (const [name, table, columns] of PARTIAL_SEARCH_INDEXES) {
    const drop = db.schema.dropIndex(name);
    await (dialect === "mssql" ? drop.on(table) : drop).execute();
    await db.schema.createIndex(name).on(table).columns([...columns])
      .where(sql.ref(columns[0]), "is not", null).execute();
  }
}

/** The mostly-NULL search indexes as partial indexes of their non-null values. */
export const migration0026: FastmtaMigration = { up };
