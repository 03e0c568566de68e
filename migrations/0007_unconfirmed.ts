/**
 * 0007: messages the broker has not confirmed yet (distributed mode, core/queue/rabbitmq.ts).
 * - messages.unconfirmed_since: set (to the commit time) when the RabbitMQ queue commits a batch
 *   before publishing its units, cleared in one UPDATE once the broker confirmed them, before the
 *   client hears 250. A row still marked long after that (its node died in between) was never
 *   acknowledged and no broker message refers to it: every node's sweeper deletes it. NULL, the
 *   default, means confirmed; the embedded queue never writes the column.
 * - messages_unconfirmed: finds the marked rows without reading the table. A partial index
 *   (only marked rows, so it stays tiny and costs the embedded queue nothing) where the database
 *   has them; MySQL/MariaDB have none and get a plain index (one NULL entry per message).
 */
import type { Kysely } from "kysely";
import { sql } from "kysely";
import type { Dialect, FastmtaMigration } from "./_types.ts";

async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema.alterTable("messages").addColumn("unconfirmed_since", "bigint").execute();
  let index = db.schema.createIndex("messages_unconfirmed").on("messages")
    .column("unconfirmed_since");
  if (dialect !== "mysql") index = index.where(sql.ref("unconfirmed_since"), "is not", null);
  await index.execute();
}

/** The broker-confirmation mark on messages. */
export const migration0007: FastmtaMigration = { up };
