/**
 * Admin console authentication: users with scrypt-hashed passwords, server-side sessions (the
 * cookie holds a random token; the database holds its SHA-256) and a CSRF token per session.
 * On first start with no users, an `admin` user is created with a random password that is
 * logged once (change it with `fastmta admin passwd admin`).
 */
import type { AdminUserStore } from "../store/mod.ts";
import { hashPassword, verifyPassword } from "./password.ts";
import { randomToken, sha256 } from "./_tokens.ts";

/** A logged-in console session. */
export interface AdminSession {
  username: string;
  csrfToken: string;
  expiresAt: number;
  /** The user's role (core/manage/types.ts `Role`). */
  role: string;
}

const SESSION_TTL_MS = 12 * 3_600_000;

/** Console users and sessions on the shared database. */
export class AdminAuth {
  #store: AdminUserStore;

  constructor(store: AdminUserStore) {
    this.#store = store;
  }

  /** Creates `admin` with a random password when there is no user; returns the password. */
  async bootstrap(): Promise<string | null> {
    if (await this.#store.hasAdminUser()) return null;
    const password = randomToken().slice(0, 20);
    try {
      await this.addUser("admin", password);
    } catch {
      return null; // another node created it first
    }
    return password;
  }

  /** Adds a user (an admin unless `role` says otherwise); fails if the name is taken. */
  async addUser(username: string, password: string, role = "admin"): Promise<void> {
    validate(username, password);
    await this.#store.addAdminUser({
      username,
      passwordHash: await hashPassword(password),
      createdAt: Date.now(),
      role,
    });
  }

  /** Sets a new password and ends the user's sessions; false if no such user. */
  async setPassword(username: string, password: string): Promise<boolean> {
    validate(username, password);
    return await this.#store.setAdminPassword(username, await hashPassword(password));
  }

  /** Removes a user and their sessions; false if no such user. */
  removeUser(username: string): Promise<boolean> {
    return this.#store.removeAdminUser(username);
  }

  /** User names, sorted. */
  listUsers(): Promise<string[]> {
    return this.#store.listAdminUsers();
  }

  /** Checks credentials and opens a session; returns its cookie token, or null. */
  async login(username: string, password: string): Promise<string | null> {
    const hash = await this.#store.adminPasswordHash(username);
    // Verify against a dummy hash for unknown users so timing does not reveal who exists.
    const ok = await verifyPassword(password, hash ?? DUMMY_HASH);
    if (hash === null || !ok) return null;
    const token = randomToken();
    const now = Date.now();
    await this.#store.addAdminSession({
      tokenHash: await sha256(token),
      username,
      csrfToken: randomToken(),
      createdAt: now,
      expiresAt: now + SESSION_TTL_MS,
    });
    return token;
  }

  /** The live session for a cookie token, or null. */
  async session(token: string | undefined): Promise<AdminSession | null> {
    if (!token) return null;
    const row = await this.#store.adminSession(await sha256(token));
    if (!row || row.expiresAt < Date.now()) return null;
    return {
      username: row.username,
      csrfToken: row.csrfToken,
      expiresAt: row.expiresAt,
      role: row.role,
    };
  }

  /** Ends a session. */
  async logout(token: string): Promise<void> {
    await this.#store.deleteAdminSession(await sha256(token));
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
