/**
 * DKIM keys: generation (RSA 2048 and Ed25519, node:crypto), the DNS TXT record that publishes
 * the public half, sealing of private keys at rest, and adding a new sealed key to the store.
 *
 * Private keys are stored in the database sealed with AES-256-GCM under a master key, bound to
 * their (domain, selector) as associated data. The master key comes from the environment
 * (`FASTMTA_DKIM_MASTER_KEY`, base64 of 32 bytes) or from `dkim.master_key_file` (default
 * `<data_dir>/dkim_master.key`, created with mode 0600 by `dkim generate`). A database copy
 * alone therefore does not give the keys away; whoever can read the master key file can. Every
 * node that signs needs the same master key. A row whose private key is a plain PEM (imported
 * by hand) is used as is.
 */
import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  generateKeyPairSync,
  randomBytes,
} from "node:crypto";
import { Buffer } from "node:buffer";
import { dirname } from "node:path";
import { writeFileDurably } from "../durable_file.ts";
import type { DkimKeyStore } from "../store/mod.ts";

/** The signing algorithms we generate keys for. */
export type DkimAlgorithm = "rsa-sha256" | "ed25519-sha256";

/** A new key pair in the forms we store. */
export interface GeneratedKey {
  algorithm: DkimAlgorithm;
  /** PKCS#8 PEM. */
  privateKeyPem: string;
  /** The DNS `p=` value: base64 SPKI for RSA, the raw 32-byte key for Ed25519 (RFC 8463). */
  publicKey: string;
}

/** Generates a key pair: "rsa" (2048 bits unless told) or "ed25519". */
export function generateDkimKey(kind: "rsa" | "ed25519", bits = 2048): GeneratedKey {
  if (kind === "rsa") {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: bits });
    return {
      algorithm: "rsa-sha256",
      privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
      publicKey: (publicKey.export({ type: "spki", format: "der" }) as Buffer).toString("base64"),
    };
  }
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const spki = publicKey.export({ type: "spki", format: "der" }) as Buffer;
  return {
    algorithm: "ed25519-sha256",
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    publicKey: spki.subarray(spki.length - 32).toString("base64"),
  };
}

/** The TXT record value: "v=DKIM1; k=rsa; p=…". */
export function dnsRecordValue(algorithm: string, publicKey: string): string {
  const k = algorithm.startsWith("ed25519") ? "ed25519" : "rsa";
  return `v=DKIM1; k=${k}; p=${publicKey}`;
}

/** The record in zone-file form, split into ≤255-character strings as DNS requires. */
export function zoneFileRecord(domain: string, selector: string, value: string): string {
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += 255) parts.push(`"${value.slice(i, i + 255)}"`);
  return `${selector}._domainkey.${domain}. IN TXT ( ${parts.join(" ")} )`;
}

/** The key that seals private keys at rest. */
export class MasterKey {
  #key: Buffer;

  private constructor(key: Buffer) {
    this.#key = key;
  }

  /**
   * Loads the master key from `FASTMTA_DKIM_MASTER_KEY` or the file; with `create`, writes a
   * new random key file (mode 0600) when neither exists. Null when there is none.
   */
  static async load(
    file: string,
    options: { create?: boolean; env?: string | undefined } = {},
  ): Promise<MasterKey | null> {
    const env = options.env ?? Deno.env.get("FASTMTA_DKIM_MASTER_KEY");
    if (env) return new MasterKey(decodeKey(env, "FASTMTA_DKIM_MASTER_KEY"));
    try {
      return new MasterKey(decodeKey(await Deno.readTextFile(file), `"${file}"`));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound) || !options.create) {
        if (error instanceof Deno.errors.NotFound) return null;
        throw error;
      }
    }
    const key = randomBytes(32);
    await Deno.mkdir(dirname(file), { recursive: true });
    writeFileDurably(file, key.toString("base64") + "\n", { mode: 0o600, exclusive: true });
    return new MasterKey(key);
  }

  /** Seals a private key: "v1:<iv>:<ciphertext+tag>" (base64), bound to `aad`. */
  seal(plaintext: string, aad: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    cipher.setAAD(Buffer.from(aad));
    const body = Buffer.concat([
      cipher.update(plaintext, "utf8"),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    return `v1:${iv.toString("base64")}:${body.toString("base64")}`;
  }

  /** Opens what `seal` made; throws if the key or the associated data do not match. */
  open(sealed: string, aad: string): string {
    const [version, ivText, bodyText] = sealed.split(":");
    if (version !== "v1" || !ivText || !bodyText) {
      throw new Error("Cannot open key: unknown format");
    }
    const body = Buffer.from(bodyText, "base64");
    const decipher = createDecipheriv("aes-256-gcm", this.#key, Buffer.from(ivText, "base64"));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(body.subarray(body.length - 16));
    return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()])
      .toString("utf8");
  }
}

function decodeKey(text: string, where: string): Buffer {
  const key = Buffer.from(text.trim(), "base64");
  if (key.length !== 32) {
    throw new Error(`Cannot use the DKIM master key from ${where}: expected 32 bytes in base64`);
  }
  return key;
}

/** The binding of a sealed key to its row. */
export function keyAad(domain: string, selector: string): string {
  return `dkim:${domain.toLowerCase()}:${selector}`;
}

/**
 * The private key PEM of a stored row: opened with the master key, or as is when stored plain.
 * Throws when it cannot be opened or parsed.
 */
export function openPrivateKey(
  stored: { domain: string; selector: string; privateKey: string },
  master: MasterKey | null,
): string {
  let pem: string;
  if (stored.privateKey.startsWith("-----BEGIN")) {
    pem = stored.privateKey;
  } else {
    if (!master) throw new Error("Cannot open key: no DKIM master key (see dkim.master_key_file)");
    pem = master.open(stored.privateKey, keyAad(stored.domain, stored.selector));
  }
  createPrivateKey(pem); // throws on a damaged key, so it fails here rather than per message
  return pem;
}

/** What {@link addGeneratedKey} makes: a key of `kind` for (domain, selector). */
export interface NewKeyRequest {
  domain: string;
  selector: string;
  kind: "rsa" | "ed25519";
  bits: number;
  createdAt: number;
  retiredAt?: number | null;
}

/**
 * Makes a key pair, seals its private key under the master key (the file is created on first
 * use) and stores it: `dkim generate` and sending domains add keys this one way, so a key
 * either made is opened alike when signing.
 */
export async function addGeneratedKey(
  store: Pick<DkimKeyStore, "addDkimKey">,
  masterKeyFile: string,
  request: NewKeyRequest,
): Promise<GeneratedKey> {
  const { domain, selector } = request;
  const master = await MasterKey.load(masterKeyFile, { create: true });
  const key = generateDkimKey(request.kind, request.bits);
  await store.addDkimKey({
    domain,
    selector,
    algorithm: key.algorithm,
    privateKey: master!.seal(key.privateKeyPem, keyAad(domain, selector)),
    publicKey: key.publicKey,
    createdAt: request.createdAt,
    retiredAt: request.retiredAt,
  });
  return key;
}
