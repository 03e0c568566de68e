/**
 * The few SQL reads and writes the RabbitMQ queue needs besides the store's own insert and
 * settle: the current state of units (to recognise stale copies), what a retry copy carries,
 * and undoing an accept the broker did not confirm. Batched: one statement per call and chunk.
 */
import type { Kysely } from "kysely";
import type { Tables } from "../store/tables.ts";

const CHUNK = 500;

function chunks<T>(items: T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Where a unit stands in SQL. */
export interface UnitState {
  state: "queued" | "done";
  attempts: number;
}

/** The state and settled attempts of each unit that exists. */
export async function unitStates(
  db: Kysely<Tables>,
  unitIds: string[],
): Promise<Map<string, UnitState>> {
  const states = new Map<string, UnitState>();
  for (const part of chunks([...new Set(unitIds)])) {
    const rows = await db.selectFrom("queue").select(["id", "state", "attempts"])
      .where("id", "in", part).execute();
    for (const row of rows) {
      states.set(row.id, { state: row.state, attempts: Number(row.attempts) });
    }
  }
  return states;
}

/** Sender and creation time of each unit's message (what a retry copy must carry). */
export async function unitOrigins(
  db: Kysely<Tables>,
  unitIds: string[],
): Promise<Map<string, { sender: string; createdAt: number }>> {
  const origins = new Map<string, { sender: string; createdAt: number }>();
  for (const part of chunks([...new Set(unitIds)])) {
    const rows = await db.selectFrom("queue")
      .innerJoin("messages", "messages.id", "queue.message_id")
      .select(["queue.id as id", "messages.sender as sender", "messages.created_at as created"])
      .where("queue.id", "in", part).execute();
    for (const row of rows) {
      origins.set(row.id, { sender: row.sender, createdAt: Number(row.created) });
    }
  }
  return origins;
}

/**
 * Removes messages that were committed but could not be queued on the broker (the client was
 * told to try again, so keeping them would deliver twice).
 */
export async function forgetMessages(db: Kysely<Tables>, messageIds: string[]): Promise<void> {
  await db.transaction().execute(async (trx) => {
    for (const part of chunks(messageIds)) {
      await trx.deleteFrom("recipients").where("message_id", "in", part).execute();
      await trx.deleteFrom("queue").where("message_id", "in", part).execute();
      await trx.deleteFrom("messages").where("id", "in", part).execute();
    }
  });
}
