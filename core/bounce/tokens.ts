/**
 * Authenticated tokens for VERP return paths and unsubscribe links: `<queue id>-<mac>`, where
 * the MAC is a truncated HMAC-SHA256 under the cluster secret over the purpose, the queue id
 * and the recipient. The recipient is not in the token: the receiver finds it by trying the
 * message's recipients, so the token stays short (27 characters) and leaks no address. Case
 * is ignored (some MTAs fold local parts), so the MAC uses lower-case base32.
 *
 * Pure functions over the key; the key comes from `loadTokenKey` (the store's shared secret).
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { ClusterSecretStore } from "../store/mod.ts";

/** Name of the shared secret in `cluster_secrets`. */
export const TOKEN_SECRET_NAME = "bounce_token_key";
/** MAC length in base32 characters: 50 bits, so a forger needs ~2^50 guesses per recipient. */
const MAC_CHARS = 10;
const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";
const QUEUE_ID = /^[0-9BCDFGHJKLMNPQRSTVWXYZ]{16}$/;

/** What a token authenticates. */
export type TokenPurpose = "verp" | "unsubscribe";

/** The HMAC key (raw bytes; never logged). */
export interface TokenKey {
  readonly bytes: Uint8Array;
}

function base32(bytes: Uint8Array, chars: number): string {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < chars) {
      out += BASE32[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
    if (out.length >= chars) break;
  }
  return out;
}

/** The MAC of one (purpose, message, recipient). */
export function tokenMac(
  key: TokenKey,
  purpose: TokenPurpose,
  queueId: string,
  recipient: string,
): string {
  const hmac = createHmac("sha256", key.bytes);
  hmac.update(`${purpose}\u0000${queueId}\u0000${recipient.toLowerCase()}`);
  return base32(new Uint8Array(hmac.digest()), MAC_CHARS);
}

/** The token for one recipient of one message. */
export function makeToken(
  key: TokenKey,
  purpose: TokenPurpose,
  queueId: string,
  recipient: string,
): string {
  return `${queueId}-${tokenMac(key, purpose, queueId, recipient)}`;
}

/** A token split into its parts, or null when it has not the shape of one. */
export function splitToken(token: string): { queueId: string; mac: string } | null {
  const dash = token.indexOf("-");
  if (dash < 0) return null;
  const queueId = token.slice(0, dash).toUpperCase();
  const mac = token.slice(dash + 1).toLowerCase();
  if (!QUEUE_ID.test(queueId) || mac.length !== MAC_CHARS) return null;
  if ([...mac].some((c) => !BASE32.includes(c))) return null;
  return { queueId, mac };
}

/** Which of `recipients` the token was made for (compared in constant time), or null. */
export function tokenRecipient(
  key: TokenKey,
  purpose: TokenPurpose,
  parts: { queueId: string; mac: string },
  recipients: string[],
): string | null {
  const given = new TextEncoder().encode(parts.mac);
  for (const recipient of recipients) {
    const expected = new TextEncoder().encode(tokenMac(key, purpose, parts.queueId, recipient));
    if (timingSafeEqual(expected, given)) return recipient;
  }
  return null;
}

/** The VERP return path of one recipient: `<prefix>+<token>@<domain>`. */
export function verpAddress(
  key: TokenKey,
  verp: { prefix: string; domain: string },
  queueId: string,
  recipient: string,
): string {
  return `${verp.prefix}+${makeToken(key, "verp", queueId, recipient)}@${verp.domain}`;
}

/** The token of a VERP address's local part (`<prefix>+<token>`), or null. */
export function verpTokenOf(localPart: string, prefix: string): string | null {
  const plus = localPart.indexOf("+");
  if (plus < 0 || localPart.slice(0, plus).toLowerCase() !== prefix.toLowerCase()) return null;
  return localPart.slice(plus + 1);
}

/** The cluster's token key, generated (32 random bytes) by the first node that asks. */
export async function loadTokenKey(store: ClusterSecretStore): Promise<TokenKey> {
  const secret = await store.clusterSecret(TOKEN_SECRET_NAME, () => {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    return btoa(String.fromCharCode(...bytes));
  });
  const bin = atob(secret);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return { bytes };
}
