/**
 * Password hashing for SMTP and admin console users: PBKDF2-HMAC-SHA256 through WebCrypto.
 * Hashes written earlier with scrypt (`scrypt$N$r$p$salt$hash`, the admin console's first
 * format) still verify; new hashes are PBKDF2.
 *
 * Why not scrypt from node:crypto: on Deno 2.9.6 its async form runs on the calling thread
 * (measured: each N=16384 hash blocked the event loop ~240 ms), so every AUTH would stall
 * every other connection of that SMTP worker. WebCrypto's `deriveBits` runs off the thread.
 * The iteration count is stored in each hash, so it can be raised later without breaking
 * existing users. The cost is paid once per login: core/auth/users.ts remembers verified
 * passwords for a while (like Dovecot's auth cache).
 */
import { Buffer } from "node:buffer";
import { scrypt, timingSafeEqual } from "node:crypto";

/** OWASP's 2023 figure for PBKDF2-HMAC-SHA256. */
export const DEFAULT_ITERATIONS = 600_000;

const PREFIX = "$pbkdf2-sha256$";

function b64(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/=+$/, "");
}

function unb64(text: string): Uint8Array {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

async function derive(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(password),
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: salt as BufferSource, iterations },
    key,
    256,
  );
  return new Uint8Array(bits);
}

/** Hashes a password into `$pbkdf2-sha256$i=N$salt$hash` (base64 without padding). */
export async function hashPassword(
  password: string,
  iterations = DEFAULT_ITERATIONS,
): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const hash = await derive(password, salt, iterations);
  return `${PREFIX}i=${iterations}$${b64(salt)}$${b64(hash)}`;
}

function verifyScrypt(password: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 6) return Promise.resolve(false);
  const [n, r, p] = parts.slice(1, 4).map(Number);
  const salt = Buffer.from(parts[4], "base64");
  const expected = Buffer.from(parts[5], "base64");
  return new Promise((resolve, reject) => {
    scrypt(
      password,
      salt,
      expected.length,
      { N: n, r, p, maxmem: 64 * 1024 * 1024 },
      (error, key) => {
        if (error) reject(error);
        else resolve(key.length === expected.length && timingSafeEqual(key, expected));
      },
    );
  });
}

/** Checks a password against a stored hash in constant time; false for a malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  if (stored.startsWith("scrypt$")) return await verifyScrypt(password, stored);
  if (!stored.startsWith(PREFIX)) return false;
  const [params, saltText, hashText] = stored.slice(PREFIX.length).split("$");
  const iterations = Number(/^i=(\d+)$/.exec(params ?? "")?.[1]);
  if (!Number.isInteger(iterations) || iterations < 1 || !saltText || !hashText) return false;
  let salt: Uint8Array, expected: Uint8Array;
  try {
    salt = unb64(saltText);
    expected = unb64(hashText);
  } catch {
    return false;
  }
  const actual = await derive(password, salt, iterations);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
