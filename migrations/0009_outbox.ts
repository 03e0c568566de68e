/**
 * 0009: the database outbox (core/inbound/outbox.ts, docs/inbound.md "Outbox table").
 * - outbox: applications INSERT one row per message (`payload`: one inject v1 JSON document) in
 *   their own transaction; fastmta claims `new` rows, accepts them through core/accept and marks
 *   them `accepted` (with `message_id`) or `failed` (with `error`). Every column but `payload` has
 *   a default, so the same `insert into outbox (payload) values (…)` works on every database.
 * - outbox_state_id: "the oldest rows in a state" (claiming `new`, reclaiming stale `claimed`,
 *   pruning `accepted`) as an index range scan.
 */
import type { Kysely } from "kysely";
import { sql } from "kysely";
import { columnType, type Dialect, type FastmtaMigration } from "./_types.ts";

async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const bigint = columnType(dialect, "bigint");
  // A payload can carry a message of smtp.max_message_size (50 MB) in base64: more than
  // MySQL's mediumtext (16 MB) holds.
  const payload = dialect === "mysql" ? sql`longtext` : columnType(dialect, "text");
  await db.schema.createTable("outbox")
    .addColumn("id", columnType(dialect, "id"), (c) => {
      c = c.primaryKey();
      if (dialect === "sqlite3" || dialect === "mysql") return c.autoIncrement();
      return dialect === "mssql" ? c.identity() : c;
    })
    .addColumn("payload", payload, (c) => c.notNull())
    .addColumn("created_at", bigint, (c) => c.notNull().defaultTo(0))
    .addColumn("state", "varchar(16)", (c) => c.notNull().defaultTo("new"))
    .addColumn("claimed_by", "varchar(64)")
    .addColumn("claimed_at", bigint)
    .addColumn("message_id", "varchar(32)")
    .addColumn("error", columnType(dialect, "text"))
    .addColumn("finished_at", bigint)
    .execute();
  await db.schema.createIndex("outbox_state_id").on("outbox").columns(["state", "id"]).execute();
}

/** The outbox table of the database inbound channel. */
export const migration0009: FastmtaMigration = { up };
