/**
 * 0014: queue operations and pauses (core/manage, issue 14).
 * - messages.pool and messages.tag: the pool and tag a message was sent with, copied out of its
 *   JSON `meta` at accept (core/store/units_insert.ts) so that search can use an index. Older
 *   messages keep null (their meta is not parsed here: a million rows would hold up the start).
 * - Indexes for every search field (core/store/queue_search.ts), each with `id` last so a
 *   keyset page (`… and id > cursor order by id`) reads the index in order: queue by domain,
 *   state, held reason and creation time (a unit's `created_at` is its message's); messages by
 *   sender, pool and tag; recipients by address.
 * - pauses: cluster-wide holds by any combination of source (vmta or pool), destination
 *   (domain) and tag, with an optional end; the scheduler of every node reads them.
 * - queue_jobs: bulk actions by filter, processed in keyset chunks; `last_id` is the last unit
 *   id done, so a job interrupted by a restart continues where it stopped.
 */
import type { Kysely } from "kysely";
import { columnType, type Dialect, type FastmtaMigration } from "./_types.ts";

async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const text = columnType(dialect, "text");
  const bigint = columnType(dialect, "bigint");

  await db.schema.alterTable("messages").addColumn("pool", "varchar(64)").execute();
  await db.schema.alterTable("messages").addColumn("tag", "varchar(255)").execute();

  const indexes: [string, string, string[]][] = [
    ["queue_domain_id", "queue", ["domain", "id"]],
    ["queue_state_id", "queue", ["state", "id"]],
    ["queue_held_id", "queue", ["held", "id"]],
    ["queue_created_id", "queue", ["created_at", "id"]],
    ["messages_sender", "messages", ["sender", "id"]],
    ["messages_pool", "messages", ["pool", "id"]],
    ["messages_tag", "messages", ["tag", "id"]],
    ["recipients_address", "recipients", ["address", "unit_id"]],
  ];
  for (const [name, table, columns] of indexes) {
    await db.schema.createIndex(name).on(table).columns(columns).execute();
  }

  await db.schema.createTable("pauses")
    .addColumn("id", "varchar(36)", (c) => c.primaryKey())
    .addColumn("source_kind", "varchar(8)")
    .addColumn("source", "varchar(255)")
    .addColumn("domain", "varchar(255)")
    .addColumn("tag", "varchar(255)")
    .addColumn("ends_at", bigint)
    .addColumn("reason", text)
    .addColumn("created_by", "varchar(255)", (c) => c.notNull())
    .addColumn("created_at", bigint, (c) => c.notNull())
    .execute();

  await db.schema.createTable("queue_jobs")
    .addColumn("id", "varchar(36)", (c) => c.primaryKey())
    .addColumn("action", "varchar(16)", (c) => c.notNull())
    .addColumn("filter_json", text, (c) => c.notNull())
    .addColumn("state", "varchar(16)", (c) => c.notNull())
    .addColumn("total", "integer", (c) => c.notNull())
    .addColumn("done", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("changed", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("last_id", "varchar(48)")
    .addColumn("error", text)
    .addColumn("created_by", "varchar(255)", (c) => c.notNull())
    .addColumn("created_at", bigint, (c) => c.notNull())
    .addColumn("updated_at", bigint, (c) => c.notNull())
    .execute();
}

/** Search indexes, pauses and bulk queue jobs. */
export const migration0014: FastmtaMigration = { up };
