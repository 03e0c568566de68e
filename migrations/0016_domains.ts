/**
 * 0016: sending domains and the managed suppression list (core/manage, issue 14).
 * - sending_domains: the domains we send for, versioned (the API's ETag), with an optional
 *   bounce domain whose MX the DNS records suggest. Their DKIM keys stay in dkim_keys.
 * - dkim_keys.retired_at: set when a key is rotated out: it no longer signs, but stays (and its
 *   DNS record is still listed) until it is removed, so mail signed with it still verifies.
 * - suppression_entries replaces suppressions: one entry per (address, scope), scope "" for
 *   every sending domain or one domain's name; `source` (bounce, complaint, unsubscribe, api,
 *   cli, import; bounces also write "smtp" and "dsn"); `expires_at` NULL for never. One table
 *   for 0004's global `suppressions` and 0013's `sender_suppressions` (whose rows become
 *   entries scoped to their sender domain): one query screens a unit against both. The
 *   PRIMARY KEY changes, which SQLite cannot ALTER, so the rows are copied into a new table.
 */
import { type Kysely, sql } from "kysely";
import { columnType, type Dialect, type FastmtaMigration } from "./_types.ts";

async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema.createTable("sending_domains")
    .addColumn("name", "varchar(255)", (c) => c.primaryKey())
    .addColumn("bounce_domain", "varchar(255)")
    .addColumn("version", "integer", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addColumn("updated_by", "varchar(255)", (c) => c.notNull())
    .execute();

  await db.schema.alterTable("dkim_keys").addColumn("retired_at", "bigint").execute();

  await db.schema.createTable("suppression_entries")
    .addColumn("address", "varchar(320)", (c) => c.notNull())
    .addColumn("scope", "varchar(255)", (c) => c.notNull())
    .addColumn("category", "varchar(32)", (c) => c.notNull())
    .addColumn("source", "varchar(16)", (c) => c.notNull())
    .addColumn("code", "integer")
    .addColumn("reason", columnType(dialect, "text"))
    .addColumn("message_id", "varchar(32)")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint")
    .addColumn("created_by", "varchar(255)")
    .addPrimaryKeyConstraint("suppression_entries_pk", ["address", "scope"])
    .execute();
  await db.schema.createIndex("suppression_entries_expires").on("suppression_entries")
    .column("expires_at").execute();
  await sql`insert into suppression_entries
      (address, scope, category, source, code, reason, message_id, created_at, expires_at)
    select address, '', category, coalesce(source, 'bounce'), code, reason, message_id,
      created_at, expires_at
    from suppressions`.execute(db);
  await sql`insert into suppression_entries
      (address, scope, category, source, code, reason, message_id, created_at, expires_at)
    select address, sender_domain, category, source, null, reason, message_id, created_at,
      expires_at
    from sender_suppressions`.execute(db);
  await db.schema.dropTable("suppressions").execute();
  await db.schema.dropTable("sender_suppressions").execute();
}

/** Sending domains, retired DKIM keys and suppression entries with scope, source and expiry. */
export const migration0016: FastmtaMigration = { up };
