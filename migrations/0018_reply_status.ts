/**
 * 0018: the last reply's SMTP code and enhanced status on each unit (queue.reply_code,
 * queue.reply_status), written at settle beside `last_reply` (core/store/reply_status.ts), each
 * indexed with `id` last for keyset pages: searching "451" or "4.7.1" among 1 000 000 units reads
 * an index instead of every reply. Units settled before the migration keep null (their replies
 * are not parsed here: a million rows would hold up the start), so such a search finds them at
 * their next attempt.
 */
import type { Kysely } from "kysely";
import type { Dialect, FastmtaMigration } from "./_types.ts";

async function up(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  await db.schema.alterTable("queue").addColumn("reply_code", "integer").execute();
  await db.schema.alterTable("queue").addColumn("reply_status", "varchar(16)").execute();
  await db.schema.createIndex("queue_reply_code_id").on("queue").columns(["reply_code", "id"])
    .execute();
  await db.schema.createIndex("queue_reply_status_id").on("queue")
    .columns(["reply_status", "id"]).execute();
}

/** Indexed code and enhanced status of each unit's last reply. */
export const migration0018: FastmtaMigration = { up };
