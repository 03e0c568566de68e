/**
 * SMTP user rows on any Kysely dialect (portable queries only). SqlStore exposes these as
 * methods; they live here so the user table stays apart from the queue code.
 */
import type { Kysely } from "kysely";
import type { Tables } from "./tables.ts";
import type { SmtpUser, SmtpUserUpdate } from "./store.ts";

function toUser(row: Tables["smtp_users"]): SmtpUser {
  return {
    username: row.username,
    passwordHash: row.password_hash,
    cramSecret: row.cram_secret,
    maxRecipients: row.max_recipients === null ? null : Number(row.max_recipients),
    maxMessagesPerMinute: row.max_messages_per_minute === null
      ? null
      : Number(row.max_messages_per_minute),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/** Inserts a user; rejects with a clear error if the name is taken. */
export async function addSmtpUser(db: Kysely<Tables>, user: SmtpUser): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const existing = await trx.selectFrom("smtp_users").select("username")
      .where("username", "=", user.username).executeTakeFirst();
    if (existing) throw new Error(`SMTP user "${user.username}" already exists`);
    await trx.insertInto("smtp_users").values({
      username: user.username,
      password_hash: user.passwordHash,
      cram_secret: user.cramSecret,
      max_recipients: user.maxRecipients,
      max_messages_per_minute: user.maxMessagesPerMinute,
      created_at: user.createdAt,
      updated_at: user.updatedAt,
    }).execute();
  });
}

/** One user, or null. */
export async function getSmtpUser(db: Kysely<Tables>, username: string): Promise<SmtpUser | null> {
  const row = await db.selectFrom("smtp_users").selectAll()
    .where("username", "=", username).executeTakeFirst();
  return row ? toUser(row) : null;
}

/** All users by name. */
export async function listSmtpUsers(db: Kysely<Tables>): Promise<SmtpUser[]> {
  const rows = await db.selectFrom("smtp_users").selectAll().orderBy("username").execute();
  return rows.map(toUser);
}

/** Changes the given fields; false if there is no such user. */
export async function updateSmtpUser(
  db: Kysely<Tables>,
  username: string,
  update: SmtpUserUpdate,
): Promise<boolean> {
  const set: Partial<Tables["smtp_users"]> = { updated_at: update.updatedAt };
  if (update.passwordHash !== undefined) set.password_hash = update.passwordHash;
  if (update.cramSecret !== undefined) set.cram_secret = update.cramSecret;
  if (update.maxRecipients !== undefined) set.max_recipients = update.maxRecipients;
  if (update.maxMessagesPerMinute !== undefined) {
    set.max_messages_per_minute = update.maxMessagesPerMinute;
  }
  const result = await db.updateTable("smtp_users").set(set)
    .where("username", "=", username).executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Deletes a user; false if there was none. */
export async function removeSmtpUser(db: Kysely<Tables>, username: string): Promise<boolean> {
  const result = await db.deleteFrom("smtp_users").where("username", "=", username)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}
