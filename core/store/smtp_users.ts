/** SMTP AUTH accounts (see migrations/0002_smtp_users.ts), portable queries only. */
import type { SqlContext } from "./_sql.ts";
import type { Tables } from "./tables.ts";

/** An SMTP AUTH account (see migrations/0002_smtp_users.ts). */
export interface SmtpUser {
  username: string;
  /** KDF hash string (core/auth/password.ts). */
  passwordHash: string;
  /** The password sealed with AES-GCM for CRAM-MD5, or null. */
  cramSecret: string | null;
  /** Per-user limits; null takes the configured default. */
  maxRecipients: number | null;
  maxMessagesPerMinute: number | null;
  createdAt: number;
  updatedAt: number;
}

/** Fields to change on an SMTP user; undefined leaves a field as it is. */
export interface SmtpUserUpdate {
  passwordHash?: string;
  cramSecret?: string | null;
  maxRecipients?: number | null;
  maxMessagesPerMinute?: number | null;
  updatedAt: number;
}

/** What SMTP AUTH and the `user` command take. */
export interface SmtpUserStore {
  /** Adds an SMTP user; rejects if the name is taken. */
  addSmtpUser(user: SmtpUser): Promise<void>;
  /** One SMTP user, or null. */
  getSmtpUser(username: string): Promise<SmtpUser | null>;
  /** All SMTP users, by name. */
  listSmtpUsers(): Promise<SmtpUser[]>;
  /** Changes an SMTP user; false if there is none. */
  updateSmtpUser(username: string, update: SmtpUserUpdate): Promise<boolean>;
  /** Removes an SMTP user; false if there was none. */
  removeSmtpUser(username: string): Promise<boolean>;
}

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
async function addSmtpUser({ db }: SqlContext, user: SmtpUser): Promise<void> {
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
async function getSmtpUser({ db }: SqlContext, username: string): Promise<SmtpUser | null> {
  const row = await db.selectFrom("smtp_users").selectAll()
    .where("username", "=", username).executeTakeFirst();
  return row ? toUser(row) : null;
}

/** All users by name. */
async function listSmtpUsers({ db }: SqlContext): Promise<SmtpUser[]> {
  const rows = await db.selectFrom("smtp_users").selectAll().orderBy("username").execute();
  return rows.map(toUser);
}

/** Changes the given fields; false if there is no such user. */
async function updateSmtpUser(
  { db }: SqlContext,
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
async function removeSmtpUser({ db }: SqlContext, username: string): Promise<boolean> {
  const result = await db.deleteFrom("smtp_users").where("username", "=", username)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** The SMTP users on one database. */
export function smtpUserRepository(ctx: SqlContext): SmtpUserStore {
  return {
    addSmtpUser: (user) => addSmtpUser(ctx, user),
    getSmtpUser: (username) => getSmtpUser(ctx, username),
    listSmtpUsers: () => listSmtpUsers(ctx),
    updateSmtpUser: (username, update) => updateSmtpUser(ctx, username, update),
    removeSmtpUser: (username) => removeSmtpUser(ctx, username),
  };
}
