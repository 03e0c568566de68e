/**
 * Admin console authentication: users with scrypt-hashed passwords, server-side sessions (the
 * cookie holds a random token; the database holds its SHA-256) and a CSRF token per session.
 * On first start with no users, an `admin` user is created with a random password that is
 * logged once (change it with `fastmta admin passwd admin`).
 */
import type { Kysely } from "kysely";
import type { Tables } from "../store/tables.ts";
import { hashPassword, verifyPassword } from "./password.ts";
import { randomToken, sha256 } from "./_tokens.ts";

/** A logged-in console session. */
export interface AdminSession {
  username: string;
  csrfToken: string;
  expiresAt: number;
}

const SESSION_TTL_MS = 12 * 3_600_000;

/** Console users and sessions on the shared database. */
export class AdminAuth {
  #db: Kysely<Tables>;

  constructor(db: Kysely<Tables>) {
    this.#db = db;
  }

  /** Creates `admin` with a random password when there is no user; returns the password. */
  async bootstrap(): Promise<string | null> {
    // No LIMIT: SQL Server has none, and the table holds a handful of rows.
    const any = await this.#db.selectFrom("admin_users").select("username").executeTakeFirst();
    if (any) return null;
    const password = randomToken().slice(0, 20);
    try {
      await this.addUser("admin", password);
    } catch {
      return null; // another node created it first
    }
    return password;
  }

  /** Adds a user; fails if the name is taken. */
  async addUser(username: string, password: string): Promise<void> {
    validate(username, password);
    await this.#db.insertInto("admin_users").values({
      username,
      password_hash: await hashPassword(password),
      created_at: Date.now(),
    }).execute();
  }

  /** Sets a new password and ends the user's sessions; false if no such user. */
  async setPassword(username: string, password: string): Promise<boolean> {
    validate(username, password);
    const result = await this.#db.updateTable("admin_users")
      .set({ password_hash: await hashPassword(password) })
      .where("username", "=", username).executeTakeFirst();
    await this.#db.deleteFrom("admin_sessions").where("username", "=", username).execute();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Removes a user and their sessions; false if no such user. */
  async removeUser(username: string): Promise<boolean> {
    await this.#db.deleteFrom("admin_sessions").where("username", "=", username).execute();
    const result = await this.#db.deleteFrom("admin_users").where("username", "=", username)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** User names, sorted. */
  async listUsers(): Promise<string[]> {
    const rows = await this.#db.selectFrom("admin_users").select("username").orderBy("username")
      .execute();
    return rows.map((r) => r.username);
  }

  /** Checks credentials and opens a session; returns its cookie token, or null. */
  async login(username: string, password: string): Promise<string | null> {
    const user = await this.#db.selectFrom("admin_users").select("password_hash")
      .where("username", "=", username).executeTakeFirst();
    // Verify against a dummy hash for unknown users so timing does not reveal who exists.
    const ok = await verifyPassword(password, user?.password_hash ?? DUMMY_HASH);
    if (!user || !ok) return null;
    const token = randomToken();
    const now = Date.now();
    await this.#db.insertInto("admin_sessions").values({
      token_hash: await sha256(token),
      username,
      csrf_token: randomToken(),
      created_at: now,
      expires_at: now + SESSION_TTL_MS,
    }).execute();
    await this.#db.deleteFrom("admin_sessions").where("expires_at", "<", now).execute();
    return token;
  }

  /** The live session for a cookie token, or null. */
  async session(token: string | undefined): Promise<AdminSession | null> {
    if (!token) return null;
    const row = await this.#db.selectFrom("admin_sessions")
      .select(["username", "csrf_token", "expires_at"])
      .where("token_hash", "=", await sha256(token)).executeTakeFirst();
    if (!row || Number(row.expires_at) < Date.now()) return null;
    return { username: row.username, csrfToken: row.csrf_token, expiresAt: Number(row.expires_at) };
  }

  /** Ends a session. */
  async logout(token: string): Promise<void> {
    await this.#db.deleteFrom("admin_sessions").where("token_hash", "=", await sha256(token))
      .execute();
  }
}

const DUMMY_HASH =
  "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

function validate(username: string, password: string) {
  if (!/^[A-Za-z0-9._@-]{1,64}$/.test(username)) {
    throw new Error(`Invalid user name "${username}": use letters, digits and . _ @ - (max 64)`);
  }
  if (password.length < 8) {
    throw new Error("Invalid password: use at least 8 characters");
  }
}
