/**
 * DKIM signing at send time: the message is signed for the domain of its From header (or the
 * nearest parent domain that has keys) with every key stored for that domain — typically one
 * RSA and one Ed25519 selector (RFC 8463 dual signing). relaxed/relaxed canonicalisation; the
 * signed header set is mailauth's default (From, Sender, Reply-To, Subject, Date, Message-ID,
 * To, Cc, MIME-Version, Content-*, In-Reply-To, References, List-*, …).
 *
 * Signing itself is npm `mailauth` (`dkimSign`), a maintained implementation that also verifies.
 * The stored message is never rewritten: the DKIM-Signature headers are prepended to the bytes
 * on their way to the SMTP client.
 *
 * A failure (a key that cannot be opened, a signing error) is logged and counted, then either
 * the message goes out unsigned or the unit is held (deferred), per `dkim.on_error`.
 *
 * Talks to: the store (key table, reloaded every `dkim.refresh_interval`). Reads config: dkim.*.
 */
import { metrics } from "../metrics/mod.ts";
import { Buffer } from "node:buffer";
import type * as MailauthSign from "./_mailauth_sign.d.ts";
import type { DkimKeyRecord } from "../store/mod.ts";
import { MasterKey, openPrivateKey } from "./keys.ts";
import { toCrlf } from "../line_ends.ts";

/**
 * mailauth is loaded on the first message that has a key to sign with: it costs each isolate
 * ~8 MB of heap, and most nodes sign nothing or only some domains.
 */
let mailauthSign: Promise<typeof MailauthSign> | null = null;
function loadDkimSign(): Promise<typeof MailauthSign> {
  return mailauthSign ??= import("mailauth/lib/dkim/sign.js") as unknown as Promise<
    typeof MailauthSign
  >;
}

/** What became of one message. */
export type SignResult =
  | { kind: "signed"; body: Uint8Array; domain: string; selectors: string[] }
  /** No key for the From domain (or no From): sent as is. */
  | { kind: "unsigned"; body: Uint8Array }
  /** Signing failed and `on_error` is "send_unsigned". */
  | { kind: "failed"; body: Uint8Array; reason: string }
  /** Signing failed and `on_error` is "defer". */
  | { kind: "hold"; reason: string };

interface LoadedKey {
  selector: string;
  algorithm: string;
  pem: string | null;
  /** Why the key cannot be used (cannot be opened). */
  error: string | null;
}

/** Options for {@link DkimSigner}. */
export interface DkimSignerOptions {
  /** Reads every key (the store's `dkimKeys`). */
  loadKeys(): Promise<DkimKeyRecord[]>;
  masterKeyFile: string;
  onError: "send_unsigned" | "defer";
  refreshMs: number;
  log(line: string): void;
  /** For tests: a fixed signing time. */
  now?: () => number;
}

/** Signs outgoing messages with the keys of their From domain. */
export class DkimSigner {
  #o: DkimSignerOptions;
  #keys = new Map<string, LoadedKey[]>();
  #loadedAt = -Infinity;
  #loading: Promise<void> | null = null;
  /** Signing failures since start. */
  failures = 0;
  /** Messages signed since start. */
  signed = 0;

  constructor(options: DkimSignerOptions) {
    this.#o = options;
  }

  async #refresh(): Promise<void> {
    if (Date.now() - this.#loadedAt < this.#o.refreshMs) return;
    this.#loading ??= (async () => {
      try {
        const rows = await this.#o.loadKeys();
        let master: MasterKey | null = null;
        let masterError: string | null = null;
        if (rows.some((r) => !r.privateKey.startsWith("-----BEGIN"))) {
          try {
            master = await MasterKey.load(this.#o.masterKeyFile);
          } catch (error) {
            masterError = (error as Error).message;
          }
        }
        const keys = new Map<string, LoadedKey[]>();
        // A retired key (rotated out) is only kept for its DNS record: it signs nothing.
        for (const row of rows) {
          if (row.retiredAt) continue;
          let pem: string | null = null;
          let error: string | null = masterError;
          if (!error) {
            try {
              pem = openPrivateKey(row, master);
            } catch (e) {
              error = (e as Error).message;
            }
          }
          if (error) this.#o.log(`dkim: key ${row.selector}._domainkey.${row.domain}: ${error}`);
          const domain = row.domain.toLowerCase();
          let list = keys.get(domain);
          if (!list) keys.set(domain, list = []);
          list.push({ selector: row.selector, algorithm: row.algorithm, pem, error });
        }
        this.#keys = keys;
        this.#loadedAt = Date.now();
      } finally {
        this.#loading = null;
      }
    })();
    await this.#loading;
  }

  /** The keys for `domain` or its nearest parent that has some. */
  #keysFor(domain: string): { domain: string; keys: LoadedKey[] } | null {
    const labels = domain.split(".");
    for (let i = 0; i < labels.length - 1; i++) {
      const candidate = labels.slice(i).join(".");
      const keys = this.#keys.get(candidate);
      if (keys && keys.length > 0) return { domain: candidate, keys };
    }
    return null;
  }

  #fail(reason: string, body: Uint8Array): SignResult {
    this.failures++;
    metrics.inc("fastmta_dkim_failures_total");
    const action = this.#o.onError === "defer" ? "holding the message" : "sending unsigned";
    this.#o.log(`dkim: ${reason} (${action}; ${this.failures} failures since start)`);
    return this.#o.onError === "defer"
      ? { kind: "hold", reason: `DKIM signing failed: ${reason}` }
      : { kind: "failed", body, reason };
  }

  /** Signs `body` (the message as stored) for its From domain. */
  async sign(body: Uint8Array): Promise<SignResult> {
    try {
      await this.#refresh();
    } catch (error) {
      if (this.#loadedAt === -Infinity) {
        return this.#fail(`cannot load keys: ${(error as Error).message}`, body);
      }
      // Keep signing with the keys we have; the next message tries to reload.
      this.#o.log(`dkim: cannot reload keys: ${(error as Error).message}`);
    }
    if (this.#keys.size === 0) return { kind: "unsigned", body };
    const from = fromDomain(body);
    if (!from) return { kind: "unsigned", body };
    const found = this.#keysFor(from);
    if (!found) return { kind: "unsigned", body };
    const broken = found.keys.find((k) => k.error !== null);
    if (broken) {
      return this.#fail(
        `cannot sign for ${found.domain} with selector ${broken.selector}: ${broken.error}`,
        body,
      );
    }
    const normalized = toCrlf(body);
    let result;
    try {
      const options = {
        canonicalization: "relaxed/relaxed",
        signTime: this.#o.now ? new Date(this.#o.now()) : undefined,
        signatureData: found.keys.map((k) => ({
          signingDomain: found.domain,
          selector: k.selector,
          privateKey: k.pem!,
          algorithm: k.algorithm,
          canonicalization: "relaxed/relaxed",
        })),
      };
      const input = Buffer.from(normalized.buffer, normalized.byteOffset, normalized.length);
      const { dkimSign } = await loadDkimSign();
      result = await dkimSign(input, options);
    } catch (error) {
      return this.#fail(`cannot sign for ${found.domain}: ${(error as Error).message}`, body);
    }
    if (result.errors.length > 0 || !result.signatures) {
      const first = result.errors[0];
      return this.#fail(
        `cannot sign for ${found.domain}${
          first?.selector ? ` with selector ${first.selector}` : ""
        }: ${first?.err?.message ?? "no signature produced"}`,
        body,
      );
    }
    this.signed++;
    const header = new TextEncoder().encode(result.signatures);
    const out = new Uint8Array(header.length + normalized.length);
    out.set(header, 0);
    out.set(normalized, header.length);
    return {
      kind: "signed",
      body: out,
      domain: found.domain,
      selectors: found.keys.map((k) => k.selector),
    };
  }
}

/** Bare LF and bare CR made CRLF (core/line_ends.ts): the signature covers the wire bytes. */
export { toCrlf };

/** The domain of the first address in the From header, lower-cased; null without one. */
export function fromDomain(message: Uint8Array): string | null {
  // Only the header section matters: find its end on the bytes, then decode just that
  // (latin1: header bytes map one to one; the address part we want is ASCII).
  let end = Math.min(message.length, 256 * 1024);
  for (let i = 0; i < end - 1; i++) {
    if (message[i] !== 0x0a) continue;
    if (message[i + 1] === 0x0a || (message[i + 1] === 0x0d && message[i + 2] === 0x0a)) {
      end = i;
      break;
    }
  }
  let text = "";
  for (let i = 0; i < end; i++) text += String.fromCharCode(message[i]);
  const head = text.replace(/\r?\n[ \t]+/g, " ");
  const line = head.split(/\r?\n/).find((l) => /^from[ \t]*:/i.test(l));
  if (!line) return null;
  let value = line.slice(line.indexOf(":") + 1);
  // Drop quoted display names and comments, then take the first angle-addr or bare address.
  value = value.replace(/"(?:[^"\\]|\\.)*"/g, " ").replace(/\([^()]*\)/g, " ");
  const angle = value.match(/<([^<>]*@[^<>]*)>/);
  const address = angle
    ? angle[1]
    : value.split(",").map((s) => s.trim()).find((s) => s.includes("@"));
  if (!address) return null;
  const domain = address.slice(address.lastIndexOf("@") + 1).trim().replace(/[>\s;]+$/, "")
    .toLowerCase();
  return /^[a-z0-9.-]+$/.test(domain) && domain.includes(".") ? domain.replace(/\.$/, "") : null;
}
