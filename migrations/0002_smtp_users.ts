/**
 * 0002: SMTP users for AUTH on the submission listeners.
 * - password_hash: a slow KDF hash string (see core/auth/password.ts), never the password.
 * - cram_secret: the password encrypted with AES-256-GCM (see core/auth/secret_box.ts), only
 *   kept while CRAM-MD5 is enabled: CRAM-MD5 needs the password itself to check a response.
 * - max_recipients, max_messages_per_minute: per-user limits; NULL takes `smtp.auth.*`.
 */
import type { Kysely } from "kysely";
import { columnType, type Dialect, type FastmtaMigration } from "./_types.ts";

async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema.createTable("smtp_users")
    .addColumn("username", "varchar(255)", (c) => c.primaryKey())
    .addColumn("password_hash", "varchar(255)", (c) => c.notNull())
    .addColumn("cram_secret", columnType(dialect, "text"))
    .addColumn("max_recipients", "integer")
    .addColumn("max_messages_per_minute", "integer")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();
}

/** SMTP users. */
export const migration0002: FastmtaMigration = { up };
