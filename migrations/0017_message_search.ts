/**
 * 0017: message search by sending key (issue 14: `GET /api/v1/messages` searches, and a sender
 * key sees only what it sent). messages.api_key is the key name core/inbound/api.ts records in
 * `meta.api_key`, copied out at accept (core/store/units_insert.ts) so the sender's filter uses
 * an index, `id` last for the newest-first keyset pages. Older messages keep null (their meta is
 * not parsed here: a million rows would hold up the start), so a sender key does not see what
 * it sent before the upgrade in search; `GET /messages/{id}` still reads the meta.
 */
import type { Kysely } from "kysely";
import type { Dialect, FastmtaMigration } from "./_types.ts";

async function up(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  await db.schema.alterTable("messages").addColumn("api_key", "varchar(255)").execute();
  await db.schema.createIndex("messages_api_key").on("messages").columns(["api_key", "id"])
    .execute();
}

/** The sending key of a message, indexed for search. */
export const migration0017: FastmtaMigration = { up };
