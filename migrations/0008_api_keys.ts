/**
 * 0008: API keys for the REST API's send endpoint (`POST /api/v1/messages`).
 * - key_hash: SHA-256 (hex) of the key. Keys are 32 random bytes, so a plain hash is enough (no
 *   slow KDF): a stolen database yields no usable key. Unique: requests look keys up by it.
 * - last_used_at: when the key last authenticated a request (to the minute), NULL if never.
 */
import type { Kysely } from "kysely";
import type { Dialect, FastmtaMigration } from "./_types.ts";

async function up(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  await db.schema.createTable("api_keys")
    .addColumn("name", "varchar(64)", (c) => c.primaryKey())
    .addColumn("key_hash", "varchar(64)", (c) => c.notNull().unique())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("last_used_at", "bigint")
    .execute();
}

/** API keys. */
export const migration0008: FastmtaMigration = { up };
