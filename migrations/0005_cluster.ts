/**
 * 0005: distributed mode (core/cluster).
 * - nodes: one row per node, its heartbeat and what it runs (JSON `info`).
 * - config_overrides: cluster-wide edits of the configuration file's values (JSON), with
 *   tombstones (value null) so that every change moves `updated_at`.
 * - cluster_slots: cluster-wide connection slots per site (lease rows with an expiry).
 * - cluster_rate: cluster-wide send counters per site and fixed time window.
 * - queue.copy_seq: with the RabbitMQ queue, which published copy of a unit is the live one
 *   (core/queue/rabbitmq.ts); the embedded queue leaves it at 0.
 */
import type { Kysely } from "kysely";
import { columnType, type Dialect, type FastmtaMigration } from "./_types.ts";

async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const text = columnType(dialect, "text");
  const bigint = columnType(dialect, "bigint");

  await db.schema.alterTable("queue")
    .addColumn("copy_seq", "integer", (c) => c.notNull().defaultTo(0))
    .execute();

  await db.schema.createTable("nodes")
    .addColumn("id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("name", "varchar(255)", (c) => c.notNull())
    .addColumn("hostname", "varchar(255)")
    .addColumn("pid", "integer")
    .addColumn("started_at", bigint, (c) => c.notNull())
    .addColumn("heartbeat_at", bigint, (c) => c.notNull())
    .addColumn("stopped_at", bigint)
    .addColumn("info", text)
    .execute();

  await db.schema.createTable("config_overrides")
    .addColumn("key", "varchar(200)", (c) => c.primaryKey())
    .addColumn("value", text)
    .addColumn("updated_at", bigint, (c) => c.notNull())
    .addColumn("updated_by", "varchar(255)")
    .execute();

  await db.schema.createTable("cluster_slots")
    .addColumn("site", "varchar(255)", (c) => c.notNull())
    .addColumn("slot", "integer", (c) => c.notNull())
    .addColumn("holder", "varchar(128)", (c) => c.notNull())
    .addColumn("expires_at", bigint, (c) => c.notNull())
    .addPrimaryKeyConstraint("cluster_slots_pk", ["site", "slot"])
    .execute();
  await db.schema.createIndex("cluster_slots_holder").on("cluster_slots").column("holder")
    .execute();

  await db.schema.createTable("cluster_rate")
    .addColumn("site", "varchar(255)", (c) => c.notNull())
    .addColumn("window_start", bigint, (c) => c.notNull())
    .addColumn("used", "integer", (c) => c.notNull())
    .addPrimaryKeyConstraint("cluster_rate_pk", ["site", "window_start"])
    .execute();
}

/** Nodes, config overrides and cluster-wide shaping. */
export const migration0005: FastmtaMigration = { up };
