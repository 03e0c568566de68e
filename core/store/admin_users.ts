/**
 * Console users (scrypt hashes) and their server-side sessions, keyed by the SHA-256 of the
 * cookie token. Hashing, validation and the session lifetime stay in core/auth/admin.ts.
 */
import type { SqlContext } from "./_sql.ts";

/** A console session as stored. */
export interface AdminSessionRecord {
  /** SHA-256 of the cookie token. */
  tokenHash: string;
  username: string;
  csrfToken: string;
  createdAt: number;
  expiresAt: number;
}

/** A console session with its user's role, as the identity check reads it. */
export type AdminSessionWithRole = AdminSessionRecord & { role: string };

/** What console authentication (core/auth/admin.ts) takes. */
export interface AdminUserStore {
  /** Whether any console user exists. */
  hasAdminUser(): Promise<boolean>;
  /** Adds a console user; fails if the name is taken. */
  addAdminUser(
    user: { username: string; passwordHash: string; createdAt: number; role?: string },
  ): Promise<void>;
  /** Sets a user's password hash and ends their sessions; false if no such user. */
  setAdminPassword(username: string, passwordHash: string): Promise<boolean>;
  /** Sets a user's role (their sessions read it at each request); false if no such user. */
  setAdminRole(username: string, role: string): Promise<boolean>;
  /** Removes a user and their sessions; false if no such user. */
  removeAdminUser(username: string): Promise<boolean>;
  /** User names, sorted. */
  listAdminUsers(): Promise<string[]>;
  /** Users with their roles, by name. */
  listAdminUserRoles(): Promise<{ username: string; role: string }[]>;
  /** A user's password hash, or null when there is no such user. */
  adminPasswordHash(username: string): Promise<string | null>;
  /** Stores a new session and deletes the ones expired before `session.createdAt`. */
  addAdminSession(session: AdminSessionRecord): Promise<void>;
  /** The session with this token hash (expired or not), or null. */
  adminSession(tokenHash: string): Promise<AdminSessionWithRole | null>;
  /** Ends one session. */
  deleteAdminSession(tokenHash: string): Promise<void>;
}

async function hasAdminUser({ db }: SqlContext): Promise<boolean> {
  // No LIMIT: SQL Server has none, and the table holds a handful of rows.
  const any = await db.selectFrom("admin_users").select("username").executeTakeFirst();
  return any !== undefined;
}

async function setAdminPassword(
  { db }: SqlContext,
  username: string,
  passwordHash: string,
): Promise<boolean> {
  const result = await db.updateTable("admin_users").set({ password_hash: passwordHash })
    .where("username", "=", username).executeTakeFirst();
  await db.deleteFrom("admin_sessions").where("username", "=", username).execute();
  return Number(result.numUpdatedRows) > 0;
}

async function setAdminRole({ db }: SqlContext, username: string, role: string) {
  const result = await db.updateTable("admin_users").set({ role })
    .where("username", "=", username).executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

async function removeAdminUser({ db }: SqlContext, username: string): Promise<boolean> {
  await db.deleteFrom("admin_sessions").where("username", "=", username).execute();
  const result = await db.deleteFrom("admin_users").where("username", "=", username)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

async function adminPasswordHash({ db }: SqlContext, username: string): Promise<string | null> {
  const user = await db.selectFrom("admin_users").select("password_hash")
    .where("username", "=", username).executeTakeFirst();
  return user?.password_hash ?? null;
}

async function addAdminSession({ db }: SqlContext, session: AdminSessionRecord): Promise<void> {
  await db.insertInto("admin_sessions").values({
    token_hash: session.tokenHash,
    username: session.username,
    csrf_token: session.csrfToken,
    created_at: session.createdAt,
    expires_at: session.expiresAt,
  }).execute();
  await db.deleteFrom("admin_sessions").where("expires_at", "<", session.createdAt).execute();
}

async function adminSession(
  { db }: SqlContext,
  tokenHash: string,
): Promise<AdminSessionWithRole | null> {
  // Inner join: a session whose user was removed is no session.
  const row = await db.selectFrom("admin_sessions")
    .innerJoin("admin_users", "admin_users.username", "admin_sessions.username")
    .select([
      "admin_sessions.username",
      "admin_sessions.csrf_token",
      "admin_sessions.created_at",
      "admin_sessions.expires_at",
      "admin_users.role",
    ])
    .where("admin_sessions.token_hash", "=", tokenHash).executeTakeFirst();
  if (!row) return null;
  return {
    tokenHash,
    username: row.username,
    csrfToken: row.csrf_token,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    role: row.role,
  };
}

/** The console users and sessions on one database. */
export function adminUserRepository(ctx: SqlContext): AdminUserStore {
  const { db } = ctx;
  return {
    hasAdminUser: () => hasAdminUser(ctx),
    addAdminUser: async (user) => {
      await db.insertInto("admin_users").values({
        username: user.username,
        password_hash: user.passwordHash,
        created_at: user.createdAt,
        role: user.role ?? "admin",
      }).execute();
    },
    setAdminPassword: (username, hash) => setAdminPassword(ctx, username, hash),
    setAdminRole: (username, role) => setAdminRole(ctx, username, role),
    removeAdminUser: (username) => removeAdminUser(ctx, username),
    listAdminUsers: async () =>
      (await db.selectFrom("admin_users").select("username").orderBy("username").execute())
        .map((r) => r.username),
    listAdminUserRoles: async () =>
      await db.selectFrom("admin_users").select(["username", "role"]).orderBy("username")
        .execute(),
    adminPasswordHash: (username) => adminPasswordHash(ctx, username),
    addAdminSession: (session) => addAdminSession(ctx, session),
    adminSession: (tokenHash) => adminSession(ctx, tokenHash),
    deleteAdminSession: async (tokenHash) => {
      await db.deleteFrom("admin_sessions").where("token_hash", "=", tokenHash).execute();
    },
  };
}
