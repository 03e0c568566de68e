/**
 * 0015: webhooks (core/store/webhooks.ts, docs/webhooks.md).
 * - webhooks: one row per configured webhook (the secret sealed with the master key), with its
 *   delivery status (failures in a row, last reply, next try) and the lease of the node that
 *   posts its batches (`lease_node` until `lease_until`): one node of a cluster at a time.
 * - webhook_outbox: the durable queue of events still to be posted: one row per flush of a
 *   node's event hub and webhook that wants some of its events (`body`: their JSON array,
 *   `events`: how many), so a busy node writes a few rows a second, not one per event; a row is
 *   deleted once the POST that carried it got a 2xx (or went to the dead letters).
 * - webhook_dead_letters: batches given up after `events.webhooks.max_age`, kept whole (the
 *   JSON array) until replayed (their events go back to webhook_outbox).
 * - webhook_attempts: every POST (status, error, duration), for `webhook deliveries`.
 */
import type { Kysely } from "kysely";
import { columnType, type Dialect, type FastmtaMigration } from "./_types.ts";

function autoId(dialect: Dialect) {
  // deno-lint-ignore no-explicit-any
  return (c: any) => {
    c = c.primaryKey();
    if (dialect === "sqlite3" || dialect === "mysql") return c.autoIncrement();
    return dialect === "mssql" ? c.identity() : c;
  };
}

async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const bigint = columnType(dialect, "bigint");
  const text = columnType(dialect, "text");
  await db.schema.createTable("webhooks")
    .addColumn("id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("url", text, (c) => c.notNull())
    .addColumn("events", text, (c) => c.notNull())
    .addColumn("secret", text, (c) => c.notNull())
    .addColumn("enabled", "integer", (c) => c.notNull().defaultTo(1))
    .addColumn("version", "integer", (c) => c.notNull().defaultTo(1))
    .addColumn("created_at", bigint, (c) => c.notNull())
    .addColumn("updated_at", bigint, (c) => c.notNull())
    .addColumn("updated_by", "varchar(200)", (c) => c.notNull())
    .addColumn("lease_node", "varchar(200)")
    .addColumn("lease_until", bigint, (c) => c.notNull().defaultTo(0))
    .addColumn("next_attempt_at", bigint, (c) => c.notNull().defaultTo(0))
    .addColumn("failures", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("last_attempt_at", bigint)
    .addColumn("last_success_at", bigint)
    .addColumn("last_status", "integer")
    .addColumn("last_error", text)
    .addColumn("delivered", bigint, (c) => c.notNull().defaultTo(0))
    .addColumn("dead", bigint, (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createTable("webhook_outbox")
    .addColumn("seq", columnType(dialect, "id"), autoId(dialect))
    .addColumn("webhook_id", "varchar(64)", (c) => c.notNull())
    .addColumn("created_at", bigint, (c) => c.notNull())
    .addColumn("events", "integer", (c) => c.notNull())
    .addColumn("body", text, (c) => c.notNull())
    .execute();
  await db.schema.createIndex("webhook_outbox_webhook_seq").on("webhook_outbox")
    .columns(["webhook_id", "seq"]).execute();
  await db.schema.createTable("webhook_dead_letters")
    .addColumn("id", columnType(dialect, "id"), autoId(dialect))
    .addColumn("webhook_id", "varchar(64)", (c) => c.notNull())
    .addColumn("created_at", bigint, (c) => c.notNull())
    .addColumn("first_event_at", bigint, (c) => c.notNull())
    .addColumn("events", "integer", (c) => c.notNull())
    .addColumn("body", text, (c) => c.notNull())
    .addColumn("reason", text, (c) => c.notNull())
    .addColumn("replayed_at", bigint)
    .execute();
  await db.schema.createIndex("webhook_dead_letters_webhook").on("webhook_dead_letters")
    .columns(["webhook_id", "id"]).execute();
  await db.schema.createTable("webhook_attempts")
    .addColumn("id", columnType(dialect, "id"), autoId(dialect))
    .addColumn("webhook_id", "varchar(64)", (c) => c.notNull())
    .addColumn("at", bigint, (c) => c.notNull())
    .addColumn("node", "varchar(200)", (c) => c.notNull())
    .addColumn("events", "integer", (c) => c.notNull())
    .addColumn("status", "integer")
    .addColumn("error", text)
    .addColumn("duration_ms", "integer", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("webhook_attempts_webhook").on("webhook_attempts")
    .columns(["webhook_id", "id"]).execute();
}

/** Webhooks, their durable outbox, dead letters and POST log. */
export const migration0015: FastmtaMigration = { up };
