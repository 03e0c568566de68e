/**
 * 0012: roles (core/manage/types.ts `Role`: admin, operator, viewer, sender) for console users
 * and REST API keys. Rows that exist already become `admin`: until now every console user could
 * do everything, and every key was checked by nothing but its existence.
 * One ALTER per column: SQLite takes one ADD COLUMN per statement.
 */
import type { Kysely } from "kysely";
import type { Dialect, FastmtaMigration } from "./_types.ts";

async function up(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  await db.schema.alterTable("admin_users")
    .addColumn("role", "varchar(16)", (c) => c.notNull().defaultTo("admin")).execute();
  await db.schema.alterTable("api_keys")
    .addColumn("role", "varchar(16)", (c) => c.notNull().defaultTo("admin")).execute();
}

/** Roles of console users and API keys. */
export const migration0012: FastmtaMigration = { up };
