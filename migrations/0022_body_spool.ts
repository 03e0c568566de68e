/**
 * 0022: the body spool (issue 19). With `database.body_spool: "segments"` (SQLite only) a
 * message's bytes go to an append-only segment file (core/spool/) instead of `messages.body`,
 * which then holds no bytes; the row keeps where they are: the segment's name and the offset
 * (the length is `messages.size`). The index on the segment finds a segment's messages when
 * recovering its tail at start and when deciding whether it can be freed.
 */
import type { Kysely } from "kysely";
import type { Dialect, FastmtaMigration } from "./_types.ts";

async function up(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  await db.schema.alterTable("messages").addColumn("body_segment", "varchar(64)").execute();
  await db.schema.alterTable("messages").addColumn("body_offset", "bigint").execute();
  await db.schema.createIndex("messages_body_segment").on("messages").column("body_segment")
    .execute();
}

/** Where a spooled body's bytes are. */
export const migration0022: FastmtaMigration = { up };
