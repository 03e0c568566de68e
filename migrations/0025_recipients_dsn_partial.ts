/**
 * 0025: `recipients_dsn` indexes only the recipients a DSN concerns (issue 19). Every query of
 * that index asks for a non-null value (`dsn = 'pending'`, a claim token, `like 'claim:%'`,
 * `in ('pending', 'quarantined')`: core/store/dsn_claims.ts, quarantine.ts, body_spool.ts), while
 * almost every row keeps NULL (a delivered recipient owes no DSN): a partial index drops one
 * B-tree insert per accepted recipient and most of the index. SQLite, PostgreSQL and SQL Server
 * (a filtered index) take `WHERE dsn IS NOT NULL`; MySQL/MariaDB have no partial indexes and keep
 * the full one. Rebuilding reads the table once: on a large queue the migration takes a while.
 */
import { type Kysely, sql } from "kysely";
import type { Dialect, FastmtaMigration } from "./_types.ts";

async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  if (dialect === "mysql") return;
  const drop = db.schema.dropIndex("recipients_dsn");
  await (dialect === "mssql" ? drop.on("recipients") : drop).execute();
  await db.schema.createIndex("recipients_dsn").on("recipients").column("dsn")
    .where(sql.ref("dsn"), "is not", null).execute();
}

/** `recipients_dsn` as a partial index of the non-null values. */
export const migration0025: FastmtaMigration = { up };
