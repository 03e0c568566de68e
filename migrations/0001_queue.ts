/**
 * 0001: the message store and the delivery queue.
 * - messages: raw bytes written once at accept, never rewritten.
 * - queue: one delivery unit per message × destination domain. `due_at` is both the next
 *   attempt time and, while leased, the lease expiry: an expired lease is simply due again.
 * - recipients: per-recipient state and last reply.
 * - attempts: one row per recipient per delivery attempt (the delivery log).
 */
import type { Kysely } from "kysely";
import { columnType, type Dialect, type FastmtaMigration } from "./_types.ts";

async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const id = columnType(dialect, "id");
  const autoId = (col: import("kysely").ColumnDefinitionBuilder) => {
    col = col.primaryKey();
    if (dialect === "sqlite3") return col.autoIncrement();
    if (dialect === "mysql") return col.autoIncrement();
    if (dialect === "mssql") return col.identity();
    return col;
  };
  const text = columnType(dialect, "text");

  await db.schema.createTable("messages")
    .addColumn("id", "varchar(32)", (c) => c.primaryKey())
    .addColumn("sender", "varchar(320)", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("size", "integer", (c) => c.notNull())
    .addColumn("recipient_count", "integer", (c) => c.notNull())
    .addColumn("channel", "varchar(32)", (c) => c.notNull())
    .addColumn("client_ip", "varchar(64)")
    .addColumn("meta", text)
    .addColumn("body", columnType(dialect, "blob"), (c) => c.notNull())
    .execute();

  await db.schema.createTable("queue")
    .addColumn("id", "varchar(48)", (c) => c.primaryKey())
    .addColumn("message_id", "varchar(32)", (c) => c.notNull())
    .addColumn("domain", "varchar(255)", (c) => c.notNull())
    .addColumn("state", "varchar(16)", (c) => c.notNull())
    .addColumn("due_at", "bigint", (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("lease_owner", "varchar(64)")
    .addColumn("lease_token", "varchar(64)")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addColumn("last_reply", text)
    .execute();
  await db.schema.createIndex("queue_state_due").on("queue").columns(["state", "due_at"])
    .execute();
  await db.schema.createIndex("queue_message").on("queue").column("message_id").execute();
  await db.schema.createIndex("queue_domain_state").on("queue").columns(["domain", "state"])
    .execute();
  await db.schema.createIndex("queue_lease_token").on("queue").column("lease_token").execute();

  await db.schema.createTable("recipients")
    .addColumn("id", id, autoId)
    .addColumn("unit_id", "varchar(48)", (c) => c.notNull())
    .addColumn("message_id", "varchar(32)", (c) => c.notNull())
    .addColumn("address", "varchar(320)", (c) => c.notNull())
    .addColumn("state", "varchar(16)", (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("last_code", "integer")
    .addColumn("last_reply", text)
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("recipients_unit").on("recipients").column("unit_id").execute();
  await db.schema.createIndex("recipients_message").on("recipients").column("message_id")
    .execute();
  await db.schema.createIndex("recipients_state").on("recipients").column("state").execute();

  await db.schema.createTable("attempts")
    .addColumn("id", id, autoId)
    .addColumn("at", "bigint", (c) => c.notNull())
    .addColumn("message_id", "varchar(32)", (c) => c.notNull())
    .addColumn("unit_id", "varchar(48)", (c) => c.notNull())
    .addColumn("recipient", "varchar(320)", (c) => c.notNull())
    .addColumn("domain", "varchar(255)", (c) => c.notNull())
    .addColumn("outcome", "varchar(16)", (c) => c.notNull())
    .addColumn("code", "integer")
    .addColumn("reply", text)
    .addColumn("source_ip", "varchar(64)")
    .addColumn("mx_host", "varchar(255)")
    .addColumn("remote_ip", "varchar(64)")
    .addColumn("tls", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("duration_ms", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("node_id", "varchar(64)")
    .execute();
  await db.schema.createIndex("attempts_message").on("attempts").column("message_id").execute();
  await db.schema.createIndex("attempts_at").on("attempts").column("at").execute();
}

/** The first schema version. */
export const migration0001: FastmtaMigration = { up };
