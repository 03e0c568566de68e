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
  /** The live copy's number. */
  copy: number;
  /** The message's meta (JSON text), for the leased unit. */
  meta: string | null;
}

/** The state and live copy of each unit that exists. */
export async function unitStates(
  db: Kysely<Tables>,
  unitIds: string[],
): Promise<Map<string, UnitState>> {
  const states = new Map<string, UnitState>();
  for (const part of chunks([...new Set(unitIds)])) {
    const rows = await db.selectFrom("queue")
      .innerJoin("messages", "messages.id", "queue.message_id")
      .select(["queue.id as id", "queue.state as state", "queue.copy_seq as copy", "messages.meta"])
      .where("queue.id", "in", part).execute();
    for (const row of rows) {
      states.set(row.id, { state: row.state, copy: Number(row.copy), meta: row.meta });
    }
  }
  return states;
}

/** What a unit's next copy carries besides the outcome: sender, age, recipients still open. */
export interface UnitOrigin {
  sender: string;
  createdAt: number;
  /** Recipients not yet delivered or failed (before this settle). */
  open: string[];
}

/** Sender, creation time and open recipients of each unit. */
export async function unitOrigins(
  db: Kysely<Tables>,
  unitIds: string[],
): Promise<Map<string, UnitOrigin>> {
  const origins = new Map<string, UnitOrigin>();
  for (const part of chunks([...new Set(unitIds)])) {
    const rows = await db.selectFrom("queue")
      .innerJoin("messages", "messages.id", "queue.message_id")
      .select(["queue.id as id", "messages.sender as sender", "messages.created_at as created"])
      .where("queue.id", "in", part).execute();
    for (const row of rows) {
      origins.set(row.id, { sender: row.sender, createdAt: Number(row.created), open: [] });
    }
    const recipients = await db.selectFrom("recipients").select(["unit_id", "address"])
      .where("unit_id", "in", part).where("state", "in", ["queued", "deferred"])
      .orderBy("id").execute();
    for (const r of recipients) origins.get(r.unit_id)?.open.push(r.address);
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
