/**
 * MTA-STS (RFC 8461): a domain publishes `_mta-sts.DOMAIN TXT "v=STSv1; id=…"` and a policy at
 * `https://mta-sts.DOMAIN/.well-known/mta-sts.txt`. Under `mode: enforce`, mail to it goes only
 * to MX hosts matching the policy's `mx` patterns, over TLS with a certificate verified for the
 * MX host name. Policies are cached for their `max_age`, and re-fetched when the TXT id changes.
 *
 * The policy host is resolved through our own resolver (so tests and split-horizon setups can
 * point it anywhere), fetched on `delivery.mta_sts.port` with the usual roots plus
 * `delivery.tls_ca_file`. Redirects are not followed (RFC 8461 §3.3).
 *
 * Talks to: DNS (TXT, A), the policy HTTPS host. Reads config: delivery.mta_sts.*,
 * delivery.tls_ca_file.
 */
import https from "node:https";
import type { Config } from "../config/mod.ts";
import type { MxResolver } from "./mx.ts";

/** A parsed MTA-STS policy. */
export interface StsPolicy {
  id: string;
  mode: "enforce" | "testing" | "none";
  mx: string[];
  maxAgeMs: number;
}

/** Parses a policy body; null when it is not a valid STSv1 policy. */
export function parseStsPolicy(text: string, id: string): StsPolicy | null {
  const fields = new Map<string, string[]>();
  for (const line of text.split(/\r?\n/)) {
    const index = line.indexOf(":");
    if (index < 0) continue;
    const key = line.slice(0, index).trim().toLowerCase();
    const value = line.slice(index + 1).trim();
    let list = fields.get(key);
    if (!list) fields.set(key, list = []);
    list.push(value);
  }
  if (fields.get("version")?.[0] !== "STSv1") return null;
  const mode = fields.get("mode")?.[0];
  if (mode !== "enforce" && mode !== "testing" && mode !== "none") return null;
  const maxAge = Number(fields.get("max_age")?.[0]);
  if (!Number.isInteger(maxAge) || maxAge < 0) return null;
  const mx = (fields.get("mx") ?? []).map((m) => m.toLowerCase());
  if (mode !== "none" && mx.length === 0) return null;
  // RFC 8461 §3.2: max_age at most 31557600 seconds.
  return { id, mode, mx, maxAgeMs: Math.min(maxAge, 31_557_600) * 1000 };
}

/** Whether `host` matches one of the policy's `mx` patterns (`*.` covers one label). */
export function mxMatchesPolicy(host: string, patterns: readonly string[]): boolean {
  const name = host.toLowerCase().replace(/\.$/, "");
  return patterns.some((pattern) => {
    if (pattern.startsWith("*.")) {
      const suffix = pattern.slice(1);
      return name.endsWith(suffix) && !name.slice(0, -suffix.length).includes(".") &&
        name.length > suffix.length;
    }
    return name === pattern;
  });
}

/** Parses `v=STSv1; id=…`; null when the record is not an MTA-STS record. */
export function parseStsRecord(txt: string): { id: string } | null {
  const parts = new Map(
    txt.split(";").map((p) => p.trim()).filter(Boolean).map((p) => {
      const index = p.indexOf("=");
      return [p.slice(0, index).trim().toLowerCase(), p.slice(index + 1).trim()] as const;
    }),
  );
  if (parts.get("v") !== "STSv1") return null;
  const id = parts.get("id");
  return id && /^[a-zA-Z0-9]{1,32}$/.test(id) ? { id } : null;
}

const FAILURE_RETRY_MS = 5 * 60_000;
const MAX_POLICY_BYTES = 64 * 1024;

interface CachedPolicy {
  policy: StsPolicy | null;
  /** Policy expiry (max_age) or, for "no policy", when to look again. */
  expires: number;
  /** When the TXT record may be checked again for a new id. */
  recheck: number;
}

/** Discovers, fetches and caches MTA-STS policies. */
export class MtaStsPolicies {
  #config: Config;
  #resolver: MxResolver;
  #ca: string[] | undefined;
  #cache = new Map<string, CachedPolicy>();
  #inflight = new Map<string, Promise<StsPolicy | null>>();

  constructor(config: Config, resolver: MxResolver, ca: string[] | undefined) {
    this.#config = config;
    this.#resolver = resolver;
    this.#ca = ca;
  }

  /** The domain's policy in force, or null (no policy, or none we could fetch). */
  policyFor(domain: string): Promise<StsPolicy | null> {
    const now = Date.now();
    const cached = this.#cache.get(domain);
    if (cached && cached.recheck > now) return Promise.resolve(cached.policy);
    let pending = this.#inflight.get(domain);
    if (!pending) {
      pending = this.#refresh(domain, cached).finally(() => this.#inflight.delete(domain));
      this.#inflight.set(domain, pending);
    }
    return pending;
  }

  async #refresh(domain: string, cached: CachedPolicy | undefined): Promise<StsPolicy | null> {
    const now = Date.now();
    const stillValid = cached && cached.policy && cached.expires > now ? cached.policy : null;
    const txt = await this.#resolver.query(`_mta-sts.${domain}`, "TXT");
    // The TXT answer's lifetime bounds how long we trust "same id" (at least a minute).
    const recheck = now + Math.max(60_000, txt.kind === "ok" ? txt.ttlMs : 0);
    const records = txt.kind === "ok"
      ? txt.records.map(parseStsRecord).filter((r) => r !== null)
      : [];
    if (records.length !== 1) {
      // No record, not exactly one, or DNS trouble: a cached unexpired policy stays in force
      // (RFC 8461 §5.1).
      this.#store(
        domain,
        stillValid,
        stillValid ? cached!.expires : now + FAILURE_RETRY_MS,
        recheck,
      );
      return stillValid;
    }
    const { id } = records[0];
    if (stillValid && stillValid.id === id) {
      this.#store(domain, stillValid, cached!.expires, recheck);
      return stillValid;
    }
    const fetched = await this.#fetch(domain, id).catch(() => null);
    if (!fetched) {
      const retry = Math.min(recheck, now + FAILURE_RETRY_MS);
      this.#store(domain, stillValid, stillValid ? cached!.expires : retry, retry);
      return stillValid;
    }
    this.#store(domain, fetched, now + fetched.maxAgeMs, Math.min(recheck, now + fetched.maxAgeMs));
    return fetched;
  }

  #store(domain: string, policy: StsPolicy | null, expires: number, recheck: number) {
    if (this.#cache.size > 50_000) this.#cache.clear();
    this.#cache.set(domain, { policy, expires, recheck });
  }

  async #fetch(domain: string, id: string): Promise<StsPolicy | null> {
    const host = `mta-sts.${domain}`;
    const found = await this.#resolver.addresses(host);
    if (found.kind !== "ok") return null;
    const { port, fetch_timeout: timeout } = this.#config.delivery.mta_sts;
    for (const address of found.addresses) {
      try {
        const body = await httpsGet({
          address,
          port,
          host,
          path: "/.well-known/mta-sts.txt",
          ca: this.#ca,
          timeoutMs: timeout,
        });
        return parseStsPolicy(body, id);
      } catch {
        // Try the next address.
      }
    }
    return null;
  }
}

/** GET over verified HTTPS to a given address; resolves the body of a 200 text/plain answer. */
function httpsGet(options: {
  address: string;
  port: number;
  host: string;
  path: string;
  ca: string[] | undefined;
  timeoutMs: number;
}): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = https.get({
      host: options.address,
      port: options.port,
      path: options.path,
      servername: options.host,
      headers: { host: options.host, "user-agent": "fastmta" },
      ca: options.ca,
      rejectUnauthorized: true,
      agent: false,
      timeout: options.timeoutMs,
    }, (response) => {
      const type = String(response.headers["content-type"] ?? "");
      if (response.statusCode !== 200 || !/^text\/plain/i.test(type)) {
        response.resume();
        reject(new Error(`policy fetch: HTTP ${response.statusCode} ${type}`));
        return;
      }
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        body += chunk;
        if (body.length > MAX_POLICY_BYTES) {
          request.destroy(new Error("policy too large"));
        }
      });
      response.on("end", () => resolve(body));
      response.on("error", reject);
    });
    request.on("timeout", () => request.destroy(new Error("policy fetch timed out")));
    request.on("error", reject);
  });
}
