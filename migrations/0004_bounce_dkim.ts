/**
 * 0004: bounces and DKIM.
 * - attempts.category, recipients.category: the bounce category of a reply (core/bounce).
 * - recipients.dsn: whether a delivery status notification is due, being built, or done. Set
 *   to "pending" in the same transaction that settles the failure, so a DSN is never lost.
 * - suppressions: addresses that hard-bounced; sends to them fail without a connection until
 *   `expires_at`.
 * - dkim_keys: signing keys per (domain, selector); `private_key` is sealed with the DKIM
 *   master key (core/dkim/keys.ts), `public_key` is the DNS `p=` value.
 */
import type { Kysely } from "kysely";
import { columnType, type Dialect, type FastmtaMigration } from "./_types.ts";

async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const text = columnType(dialect, "text");

  await db.schema.alterTable("attempts").addColumn("category", "varchar(32)").execute();
  await db.schema.alterTable("recipients").addColumn("category", "varchar(32)").execute();
  await db.schema.alterTable("recipients").addColumn("dsn", "varchar(96)").execute();
  await db.schema.createIndex("recipients_dsn").on("recipients").column("dsn").execute();

  await db.schema.createTable("suppressions")
    .addColumn("address", "varchar(320)", (c) => c.primaryKey())
    .addColumn("category", "varchar(32)", (c) => c.notNull())
    .addColumn("code", "integer")
    .addColumn("reason", text)
    .addColumn("message_id", "varchar(32)")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("suppressions_expires").on("suppressions").column("expires_at")
    .execute();

  await db.schema.createTable("dkim_keys")
    .addColumn("domain", "varchar(255)", (c) => c.notNull())
    .addColumn("selector", "varchar(63)", (c) => c.notNull())
    .addColumn("algorithm", "varchar(16)", (c) => c.notNull())
    .addColumn("private_key", text, (c) => c.notNull())
    .addColumn("public_key", text, (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("dkim_keys_pk", ["domain", "selector"])
    .execute();
}

/** Bounce categories, DSN bookkeeping, the suppression list and DKIM keys. */
export const migration0004: FastmtaMigration = { up };
