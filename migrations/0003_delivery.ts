/**
 * 0003: delivery shaping and a richer delivery log.
 * - shaping_rules: shaping rules by destination pattern (`*`, `example.com`, `*.example.com`,
 *   `mx:PATTERN`, `pool:NAME`), a JSON object each; they override the config file's rule for the
 *   same pattern and are re-read by running nodes (see core/schedule/rules.ts).
 * - queue.held: why a unit waits without having been attempted (`paused`, `backoff`,
 *   `local_limit`, `scheduled`), so that resuming a pause can make its units due at once.
 * - attempts: the retry reason, site, pool and TLS details of each attempt. Tries inside an
 *   attempt that did not decide it (a host that was down, a switched source IP) are logged with
 *   recipient "" and outcome "tried".
 */
import type { Kysely } from "kysely";
import { columnType, type Dialect, type FastmtaMigration } from "./_types.ts";

async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema.createTable("shaping_rules")
    .addColumn("pattern", "varchar(255)", (c) => c.primaryKey())
    .addColumn("rule", columnType(dialect, "text"), (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();

  await db.schema.alterTable("queue").addColumn("held", "varchar(16)").execute();

  // One column per statement: SQLite's ALTER TABLE adds one at a time.
  await db.schema.alterTable("attempts").addColumn("reason", "varchar(16)").execute();
  await db.schema.alterTable("attempts").addColumn("site", "varchar(255)").execute();
  await db.schema.alterTable("attempts").addColumn("pool", "varchar(64)").execute();
  await db.schema.alterTable("attempts").addColumn("tls_version", "varchar(16)").execute();
  await db.schema.alterTable("attempts")
    .addColumn("tls_verified", "integer", (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.createIndex("attempts_source_at").on("attempts").columns(["source_ip", "at"])
    .execute();
}

/** Delivery shaping rules, hold reasons, attempt details. */
export const migration0003: FastmtaMigration = { up };
