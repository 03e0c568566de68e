/**
 * REST API keys: `fmk_` + 32 random bytes (base64url), shown once when made and stored only as
 * their SHA-256. A plain hash is enough: the keys carry 256 bits of entropy, so there is nothing
 * to guess, and checking one costs a microsecond instead of a slow KDF's stall per request.
 *
 * Talks to: the store (api_keys). Used by `main.ts apikey …` and the send route.
 */
import type { ApiKeyRecord, ApiKeyStore } from "../store/mod.ts";
import { randomToken, sha256 } from "./_tokens.ts";

/** Prefix of every key: lets secret scanners and people recognise one. */
export const API_KEY_PREFIX = "fmk_";

const KEY_SHAPE = /^fmk_[A-Za-z0-9_-]{43}$/;
const NAME_SHAPE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** `last_used_at` is written at most this often per key: not one write per request. */
const TOUCH_INTERVAL_MS = 60_000;

/** Checks that a key name is short and safe to print and type. */
export function validateApiKeyName(name: string): void {
  if (!NAME_SHAPE.test(name)) {
    throw new Error(
      `Invalid API key name "${name}": expected 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
  }
}

/**
 * Makes and stores a new key named `name` with `options.role` (admin when not given, as every
 * key made before roles); returns the key (the only time it is seen).
 */
export async function addApiKey(
  store: Pick<ApiKeyStore, "addApiKey">,
  name: string,
  options: { role?: string; now?: number } = {},
): Promise<string> {
  validateApiKeyName(name);
  const key = API_KEY_PREFIX + randomToken();
  await store.addApiKey({
    name,
    keyHash: await sha256(key),
    createdAt: options.now ?? Date.now(),
    lastUsedAt: null,
    role: options.role,
  });
  return key;
}

/**
 * The stored key that `key` is, or null for an unknown or malformed one. Records the use (at
 * most once a minute per key, without waiting for it: bookkeeping must not delay or fail a
 * send). Lookup errors propagate: a database that is down is not a wrong key.
 */
export async function authenticateApiKey(
  store: Pick<ApiKeyStore, "apiKeyByHash" | "touchApiKey">,
  key: string,
  now = Date.now(),
): Promise<ApiKeyRecord | null> {
  if (!KEY_SHAPE.test(key)) return null;
  const record = await store.apiKeyByHash(await sha256(key));
  if (!record) return null;
  if (record.lastUsedAt === null || now - record.lastUsedAt >= TOUCH_INTERVAL_MS) {
    store.touchApiKey(record.name, now).catch(() => {});
  }
  return record;
}
