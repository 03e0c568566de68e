/**
 * 0006: admin console users and their sessions. Passwords are stored as scrypt hashes; a session
 * is stored by the SHA-256 of its cookie token (a stolen database does not yield live cookies)
 * together with its CSRF token.
 */
import type { Kysely } from "kysely";
import type { Dialect, FastmtaMigration } from "./_types.ts";

async function up(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  await db.schema.createTable("admin_users")
    .addColumn("username", "varchar(64)", (c) => c.primaryKey())
    .addColumn("password_hash", "varchar(255)", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createTable("admin_sessions")
    .addColumn("token_hash", "varchar(64)", (c) => c.primaryKey())
    .addColumn("username", "varchar(64)", (c) => c.notNull())
    .addColumn("csrf_token", "varchar(64)", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("admin_sessions_expires").on("admin_sessions")
    .column("expires_at").execute();
}

/** Admin console users and sessions. */
export const migration0006: FastmtaMigration = { up };
