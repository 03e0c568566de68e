/**
 * Reversible storage for CRAM-MD5 secrets: AES-256-GCM with a key kept outside the database.
 *
 * CRAM-MD5 proves knowledge of the password by an HMAC keyed with the password itself, so the
 * server must be able to recover the password: a one-way hash cannot check it. Sealing it with
 * a key from a file (not in the database) means a stolen database alone does not reveal
 * passwords; a stolen database *and* key file does. Operators who do not accept that trade-off
 * disable CRAM-MD5 (`smtp.auth.mechanisms` without it); `user add`/`passwd` then store no
 * sealed copy, and PLAIN/LOGIN over TLS check against the one-way hash only.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { writeFileDurably } from "../durable_file.ts";

const VERSION = "v1";

function b64(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

function unb64(text: string): Uint8Array {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function parseKeyFile(path: string, bytes: Uint8Array): Uint8Array {
  if (bytes.length === 32) return bytes;
  const text = new TextDecoder().decode(bytes).trim();
  try {
    const decoded = unb64(text);
    if (decoded.length === 32) return decoded;
  } catch {
    // Reported below.
  }
  throw new Error(
    `Cannot use auth key file "${path}": expected 32 raw bytes or their base64 (44 characters)`,
  );
}

/**
 * Reads the 32-byte key from `path`; with `create`, writes a new random one (mode 0600) when
 * the file does not exist yet. Returns the key and whether it was created now.
 */
export async function loadSecretKey(
  path: string,
  options: { create: boolean },
): Promise<{ key: CryptoKey; created: boolean }> {
  let raw: Uint8Array;
  let created = false;
  try {
    raw = parseKeyFile(path, await Deno.readFile(path));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound) || !options.create) {
      if (error instanceof Deno.errors.NotFound) {
        throw new Error(`Cannot read auth key file "${path}": it does not exist`);
      }
      throw error;
    }
    raw = crypto.getRandomValues(new Uint8Array(32));
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    try {
      // Exclusive: never overwrite a key another process wrote a moment ago.
      writeFileDurably(path, b64(raw) + "\n", { mode: 0o600, exclusive: true });
      created = true;
    } catch (writeError) {
      if ((writeError as { code?: string }).code !== "EEXIST") throw writeError;
      raw = parseKeyFile(path, await Deno.readFile(path));
    }
  }
  const key = await crypto.subtle.importKey("raw", raw as BufferSource, "AES-GCM", false, [
    "encrypt",
    "decrypt",
  ]);
  return { key, created };
}

/** Encrypts `plain` into `v1:<iv>:<ciphertext+tag>`; `label` is bound as associated data. */
export async function seal(key: CryptoKey, plain: string, label: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(label) },
    key,
    new TextEncoder().encode(plain),
  );
  return `${VERSION}:${b64(iv)}:${b64(new Uint8Array(data))}`;
}

/** Decrypts what `seal` made with the same key and label; throws if it was altered. */
export async function open(key: CryptoKey, sealed: string, label: string): Promise<string> {
  const [version, ivText, dataText] = sealed.split(":");
  if (version !== VERSION || !ivText || !dataText) {
    throw new Error("Cannot open sealed secret: unknown format");
  }
  const plain = await crypto.subtle.decrypt(
    {
      name: "AES-GCM",
      iv: unb64(ivText) as BufferSource,
      additionalData: new TextEncoder().encode(label),
    },
    key,
    unb64(dataText) as BufferSource,
  );
  return new TextDecoder().decode(plain);
}
