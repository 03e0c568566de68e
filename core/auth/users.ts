/**
 * SMTP users: creating and changing accounts (for `main.ts user …`) and checking AUTH
 * credentials (for the SMTP workers). Passwords are kept as a slow KDF hash
 * (password.ts); with CRAM-MD5 enabled also sealed with AES-GCM (secret_box.ts).
 *
 * Talks to: the store (smtp_users). Reads config: smtp.auth.*.
 */
import { createHmac } from "node:crypto";
import type { SmtpUser, SmtpUserStore } from "../store/mod.ts";
import { DEFAULT_ITERATIONS, hashPassword, verifyPassword } from "./password.ts";
import { open, seal } from "./secret_box.ts";

/** SASL mechanisms fastmta implements. */
export type AuthMechanism = "PLAIN" | "LOGIN" | "CRAM-MD5";

/** Credentials as the SMTP layer received them. */
export type AuthRequest =
  | { method: "PLAIN" | "LOGIN"; username: string; password: string }
  | { method: "CRAM-MD5"; username: string; validate: (secret: string) => boolean };

/** Checks that a user name can be stored and typed in every mechanism. */
export function validateUsername(username: string): void {
  if (username.length === 0 || username.length > 255) {
    throw new Error(`Invalid user name "${username}": expected 1 to 255 characters`);
  }
  // deno-lint-ignore no-control-regex
  if (/[\s\x00-\x1f\x7f]/.test(username)) {
    throw new Error(`Invalid user name "${username}": no spaces or control characters`);
  }
}

/** Checks that a password is usable (CRAM-MD5 and LOGIN cannot carry every byte). */
export function validatePassword(password: string): void {
  if (password.length === 0) throw new Error("Invalid password: it is empty");
  if (password.length > 1024) throw new Error("Invalid password: longer than 1024 characters");
  // deno-lint-ignore no-control-regex
  if (/[\x00\r\n]/.test(password)) {
    throw new Error("Invalid password: NUL and line breaks are not allowed");
  }
}

/** The label AES-GCM binds a sealed secret to, so one user's secret cannot be pasted to another. */
function sealLabel(username: string): string {
  return `fastmta smtp_users cram_secret ${username}`;
}

/** Options for creating or changing a user. */
export interface UserOptions {
  /** The sealing key; null stores no CRAM-MD5 secret (CRAM-MD5 disabled). */
  key: CryptoKey | null;
  iterations?: number;
  maxRecipients?: number | null;
  maxMessagesPerMinute?: number | null;
  now?: number;
}

/** Adds a user; rejects if the name is taken or invalid. */
export async function addUser(
  store: SmtpUserStore,
  username: string,
  password: string,
  options: UserOptions,
): Promise<void> {
  validateUsername(username);
  validatePassword(password);
  const now = options.now ?? Date.now();
  await store.addSmtpUser({
    username,
    passwordHash: await hashPassword(password, options.iterations ?? DEFAULT_ITERATIONS),
    cramSecret: options.key ? await seal(options.key, password, sealLabel(username)) : null,
    maxRecipients: options.maxRecipients ?? null,
    maxMessagesPerMinute: options.maxMessagesPerMinute ?? null,
    createdAt: now,
    updatedAt: now,
  });
}

/** Sets a new password; false if there is no such user. */
export async function changePassword(
  store: SmtpUserStore,
  username: string,
  password: string,
  options: UserOptions,
): Promise<boolean> {
  validatePassword(password);
  return await store.updateSmtpUser(username, {
    passwordHash: await hashPassword(password, options.iterations ?? DEFAULT_ITERATIONS),
    cramSecret: options.key ? await seal(options.key, password, sealLabel(username)) : null,
    updatedAt: options.now ?? Date.now(),
  });
}

/** Options of the authenticator. */
export interface AuthenticatorOptions {
  /** The sealing key for CRAM-MD5 secrets; null when CRAM-MD5 is disabled. */
  key: CryptoKey | null;
  /** How long a verified PLAIN/LOGIN password is remembered. */
  cacheTtlMs: number;
  /** Called when a stored secret cannot be used (e.g. sealed with another key). */
  log?: (line: string) => void;
}

const MAX_CACHE = 10_000;

/**
 * Checks AUTH credentials against the store. A verified password is remembered (keyed by an
 * HMAC of user, password and stored hash under a per-process random key, so the cache holds
 * no password and a changed password misses it) for `cacheTtlMs`: the KDF cost is paid once
 * per login, not once per connection. Unknown users cost a KDF run too, so timing does not
 * tell which names exist.
 */
export class SmtpAuthenticator {
  #store: SmtpUserStore;
  #options: AuthenticatorOptions;
  #cache = new Map<string, number>();
  #cacheKey = crypto.getRandomValues(new Uint8Array(32));
  #dummyHash: Promise<string> | null = null;

  constructor(store: SmtpUserStore, options: AuthenticatorOptions) {
    this.#store = store;
    this.#options = options;
  }

  /** The user if the credentials are right, else null. */
  async authenticate(request: AuthRequest): Promise<SmtpUser | null> {
    const user = await this.#store.getSmtpUser(request.username);
    if (request.method === "CRAM-MD5") {
      if (!user?.cramSecret || !this.#options.key) return null;
      let secret: string;
      try {
        secret = await open(this.#options.key, user.cramSecret, sealLabel(user.username));
      } catch (error) {
        this.#options.log?.(
          `cannot open the CRAM-MD5 secret of "${user.username}": ${(error as Error).message}` +
            " (run `user passwd` to store it again)",
        );
        return null;
      }
      return request.validate(secret) ? user : null;
    }
    if (!user) {
      this.#dummyHash ??= hashPassword(crypto.randomUUID());
      await verifyPassword(request.password, await this.#dummyHash);
      return null;
    }
    const cacheKey = createHmac("sha256", this.#cacheKey)
      .update(`${user.username}\u0000${request.password}\u0000${user.passwordHash}`)
      .digest("base64");
    const now = Date.now();
    const until = this.#cache.get(cacheKey);
    if (until !== undefined && until > now) return user;
    if (!(await verifyPassword(request.password, user.passwordHash))) return null;
    if (this.#options.cacheTtlMs > 0) {
      if (this.#cache.size >= MAX_CACHE) this.#prune(now);
      this.#cache.set(cacheKey, now + this.#options.cacheTtlMs);
    }
    return user;
  }

  #prune(now: number) {
    for (const [key, until] of this.#cache) if (until <= now) this.#cache.delete(key);
    // Still full: drop the oldest half (Map keeps insertion order).
    if (this.#cache.size >= MAX_CACHE) {
      let n = this.#cache.size / 2;
      for (const key of this.#cache.keys()) {
        if (n-- <= 0) break;
        this.#cache.delete(key);
      }
    }
  }
}
