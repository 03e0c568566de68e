/**
 * 0011: configuration as data (core/manage, issue 14).
 * - config_objects: every operator-managed object (vmta, pool, listener, route, shaping rule,
 *   retention, bounce rule, …) as JSON `body`, keyed by (kind, id), with its own `version`.
 *   A delete is a tombstone (`deleted` = 1, version bumped) rather than a removed row: versions
 *   of an id never repeat (an ETag seen once never matches a different object later), and a
 *   node knows a kind was seeded even after every object of it was deleted.
 * - config_audit: one row per change (or queue action): who, through which face, before and
 *   after as JSON (`before_body`, `after_body`: BEFORE is a MySQL keyword), and the cluster config version the change produced (0 for queue actions).
 * - config_version: one row per counter (`objects`): bumped in the same transaction as every
 *   object change; nodes report the value they applied.
 * - The stored shaping rules move into config_objects (kind "shaping_rule"), so the
 *   `shaping_rules` table stays only for old readers; nothing writes it any more.
 */
import type { Kysely } from "kysely";
import { sql } from "kysely";
import { columnType, type Dialect, type FastmtaMigration } from "./_types.ts";

async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const text = columnType(dialect, "text");
  const bigint = columnType(dialect, "bigint");

  await db.schema.createTable("config_objects")
    .addColumn("kind", "varchar(64)", (c) => c.notNull())
    .addColumn("id", "varchar(255)", (c) => c.notNull())
    .addColumn("version", "integer", (c) => c.notNull())
    .addColumn("body", text, (c) => c.notNull())
    .addColumn("deleted", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("updated_at", bigint, (c) => c.notNull())
    .addColumn("updated_by", "varchar(255)", (c) => c.notNull())
    .addPrimaryKeyConstraint("config_objects_pk", ["kind", "id"])
    .execute();

  await db.schema.createTable("config_audit")
    .addColumn("id", columnType(dialect, "id"), (c) => {
      const col = c.primaryKey();
      if (dialect === "sqlite3" || dialect === "mysql") return col.autoIncrement();
      return dialect === "mssql" ? col.identity() : col;
    })
    .addColumn("at", bigint, (c) => c.notNull())
    .addColumn("actor", "varchar(255)", (c) => c.notNull())
    .addColumn("role", "varchar(16)", (c) => c.notNull())
    .addColumn("channel", "varchar(16)", (c) => c.notNull())
    .addColumn("kind", "varchar(64)", (c) => c.notNull())
    .addColumn("object_id", "varchar(255)", (c) => c.notNull())
    .addColumn("action", "varchar(32)", (c) => c.notNull())
    .addColumn("before_body", text)
    .addColumn("after_body", text)
    .addColumn("config_version", bigint, (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex("config_audit_object").on("config_audit")
    .columns(["kind", "object_id"]).execute();

  await db.schema.createTable("config_version")
    .addColumn("name", "varchar(32)", (c) => c.primaryKey())
    .addColumn("version", bigint, (c) => c.notNull())
    .execute();

  // Stored shaping rules become objects at version 1, and the counter starts past them.
  const rules = await sql<{ pattern: string; rule: string; updated_at: number | string }>`
    select pattern, rule, updated_at from shaping_rules`.execute(db);
  for (const row of rules.rows) {
    let rule: unknown = row.rule;
    try {
      rule = JSON.parse(row.rule);
    } catch { /* kept as text: the policy reports it as invalid */ }
    await sql`insert into config_objects (kind, id, version, body, deleted, updated_at, updated_by)
      values (${"shaping_rule"}, ${row.pattern}, ${1},
        ${JSON.stringify({ pattern: row.pattern, rule })}, ${0}, ${Number(row.updated_at)},
        ${"migration"})`.execute(db);
  }
  await sql`insert into config_version (name, version) values (${"objects"}, ${rules.rows.length})`
    .execute(db);
}

/** Versioned configuration objects, their audit log and the cluster config version. */
export const migration0011: FastmtaMigration = { up };
