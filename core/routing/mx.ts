/**
 * Destination resolution: domain → ordered hosts to try, and the *site* they form. A route
 * (transport map entry for the domain or `*`) wins over DNS; otherwise MX by preference, with the
 * domain's own A/AAAA as implicit MX when it has none (RFC 5321 §5.1). A null MX (RFC 7505) or a
 * domain that does not exist fails permanently; a resolver that does not answer is temporary.
 * Answers are cached for their DNS TTL (capped by `dns.cache_ttl`).
 *
 * A site is the set of MX host names a domain resolves to (KumoMTA's "site name"): domains whose
 * MX hosts are the same share a site, and limits are counted per (source IP, site).
 *
 * Talks to: DNS (core/routing/dns.ts). Reads config: dns.*, routes, delivery.remote_port.
 */
import type { Config } from "../config/mod.ts";
import type { TlsMode } from "../config/delivery_schema.ts";
import { DnsClient, type DnsData, type DnsResult, type DnsType } from "./dns.ts";

/** One host to try, with its addresses. */
export interface MxHost {
  name: string;
  preference: number;
  addresses: string[];
  port: number;
}

/** Settings a route (transport map entry) adds to its destination. */
export interface RouteSettings {
  tls?: TlsMode;
  auth?: { username: string; password: string };
}

/** Where a domain's mail goes, or why it cannot go. */
export type Destination =
  | {
    kind: "hosts";
    /** Site key: the sorted MX host names, or `route:host:port` for a route. */
    site: string;
    /** How the hosts were found. */
    via: "mx" | "implicit" | "route" | "literal";
    hosts: MxHost[];
    route?: RouteSettings;
  }
  | { kind: "permanent"; reason: string }
  | { kind: "temporary"; reason: string };

/** Longest a temporary failure (resolver down, MX hosts without address) is cached. */
const TEMPORARY_TTL = 5_000;

/** True for an IPv4 or IPv6 literal. */
export function isIpLiteral(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(":");
}

interface CacheEntry<T> {
  expires: number;
  value: T;
}

/** Resolves destinations with a TTL cache; concurrent lookups of one name share one query. */
export class MxResolver {
  #config: Config;
  #dns: DnsClient;
  #cache = new Map<string, CacheEntry<Destination>>();
  #inflight = new Map<string, Promise<Destination>>();
  #queries = new Map<string, CacheEntry<DnsResult<DnsType>>>();
  #queriesInflight = new Map<string, Promise<DnsResult<DnsType>>>();

  constructor(config: Config, dns?: DnsClient) {
    this.#config = config;
    this.#dns = dns ?? new DnsClient(config.dns.servers, config.dns.timeout);
  }

  /** The DNS client this resolver asks (shared with MTA-STS discovery). */
  get dns(): DnsClient {
    return this.#dns;
  }

  /** The cached destination of `domain` when it is still fresh (no I/O). */
  cached(domain: string, now = Date.now()): Destination | undefined {
    const entry = this.#cache.get(domain);
    return entry && entry.expires > now ? entry.value : undefined;
  }

  /** Resolves `domain`, from cache when fresh. */
  resolve(domain: string): Promise<Destination> {
    const cached = this.cached(domain);
    if (cached) return Promise.resolve(cached);
    let pending = this.#inflight.get(domain);
    if (!pending) {
      pending = this.#resolveUncached(domain).then(({ value, ttl }) => {
        this.#inflight.delete(domain);
        if (this.#cache.size > 100_000) this.#cache.clear();
        // A floor keeps TTL-0 answers from costing one lookup per message.
        this.#cache.set(domain, { expires: Date.now() + Math.max(ttl, 1_000), value });
        return value;
      });
      this.#inflight.set(domain, pending);
    }
    return pending;
  }

  /** Drops every cached answer. */
  clear() {
    this.#cache.clear();
    this.#queries.clear();
  }

  /** One DNS question, cached for its TTL (negative answers for `dns.negative_ttl`). */
  async query<T extends DnsType>(name: string, type: T): Promise<DnsResult<T>> {
    const key = `${type} ${name.toLowerCase()}`;
    const now = Date.now();
    const entry = this.#queries.get(key);
    if (entry && entry.expires > now) return entry.value as DnsResult<T>;
    let pending = this.#queriesInflight.get(key);
    if (!pending) {
      pending = this.#dns.query(name, type).then((result) => {
        this.#queriesInflight.delete(key);
        if (this.#queries.size > 100_000) this.#queries.clear();
        this.#queries.set(key, { expires: Date.now() + this.#ttlOf(result), value: result });
        return result;
      });
      this.#queriesInflight.set(key, pending);
    }
    return await pending as DnsResult<T>;
  }

  get #temporaryTtl(): number {
    return Math.min(TEMPORARY_TTL, this.#config.dns.negativeTtl);
  }

  #ttlOf(result: DnsResult<DnsType>): number {
    const { cacheTtl, negativeTtl } = this.#config.dns;
    if (result.kind === "error") return this.#temporaryTtl;
    if (result.kind === "ok") return Math.min(result.ttlMs, cacheTtl);
    return Math.min(result.ttlMs >= 0 ? result.ttlMs : negativeTtl, negativeTtl, cacheTtl);
  }

  /** A and AAAA of `name`, or why there are none. */
  async addresses(
    name: string,
  ): Promise<
    { kind: "ok"; addresses: string[]; ttl: number } | { kind: "nxdomain" | "nodata" | "error" }
  > {
    if (isIpLiteral(name)) return { kind: "ok", addresses: [name], ttl: Infinity };
    const [a, aaaa] = await Promise.all([this.query(name, "A"), this.query(name, "AAAA")]);
    const addresses = [
      ...(a.kind === "ok" ? a.records : []),
      ...(aaaa.kind === "ok" ? aaaa.records : []),
    ] as DnsData["A"][];
    if (addresses.length > 0) {
      const ttl = Math.min(
        a.kind === "ok" ? this.#ttlOf(a) : Infinity,
        aaaa.kind === "ok" ? this.#ttlOf(aaaa) : Infinity,
      );
      return { kind: "ok", addresses, ttl };
    }
    if (a.kind === "error" || aaaa.kind === "error") return { kind: "error" };
    if (a.kind === "nxdomain") return { kind: "nxdomain" };
    return { kind: "nodata" };
  }

  async #resolveUncached(domain: string): Promise<{ value: Destination; ttl: number }> {
    const route = this.#config.routes[domain] ?? this.#config.routes["*"];
    if (route) {
      const found = await this.addresses(route.host);
      if (found.kind !== "ok") {
        return {
          value: {
            kind: "temporary",
            reason: `route host ${route.host} for ${domain}: no address (${found.kind})`,
          },
          ttl: this.#temporaryTtl,
        };
      }
      const settings: RouteSettings = {};
      if (route.tls) settings.tls = route.tls;
      if (route.auth) settings.auth = route.auth;
      return {
        value: {
          kind: "hosts",
          site: `route:${route.host}:${route.port}`,
          via: "route",
          hosts: [{
            name: route.host,
            preference: 0,
            addresses: found.addresses,
            port: route.port,
          }],
          route: settings,
        },
        ttl: Math.min(found.ttl, this.#config.dns.cacheTtl),
      };
    }
    const port = this.#config.delivery.remote_port;
    if (isIpLiteral(domain)) {
      return {
        value: {
          kind: "hosts",
          site: domain,
          via: "literal",
          hosts: [{ name: domain, preference: 0, addresses: [domain], port }],
        },
        ttl: this.#config.dns.cacheTtl,
      };
    }
    const mx = await this.query(domain, "MX");
    if (mx.kind === "error") {
      return {
        value: { kind: "temporary", reason: `DNS lookup for ${domain} failed: ${mx.message}` },
        ttl: this.#temporaryTtl,
      };
    }
    if (mx.kind === "nxdomain") {
      return {
        value: { kind: "permanent", reason: `domain ${domain} not found (NXDOMAIN)` },
        ttl: this.#ttlOf(mx),
      };
    }
    if (mx.kind === "ok") {
      const records = mx.records;
      if (records.some((r) => r.exchange === "")) {
        return {
          value: { kind: "permanent", reason: `domain ${domain} does not accept mail (null MX)` },
          ttl: this.#ttlOf(mx),
        };
      }
      const sorted = [...records].sort((a, b) =>
        a.preference - b.preference || a.exchange.localeCompare(b.exchange)
      );
      const found = await Promise.all(sorted.map((r) => this.addresses(r.exchange)));
      const hosts: MxHost[] = [];
      let ttl = this.#ttlOf(mx);
      let anyError = false;
      sorted.forEach((record, i) => {
        const result = found[i];
        if (result.kind === "ok") {
          hosts.push({
            name: record.exchange.toLowerCase(),
            preference: record.preference,
            addresses: result.addresses,
            port,
          });
          ttl = Math.min(ttl, result.ttl);
        } else if (result.kind === "error") {
          anyError = true;
        }
      });
      if (hosts.length === 0) {
        return {
          value: {
            kind: "temporary",
            reason: `no MX host of ${domain} has an address${anyError ? " (DNS error)" : ""}`,
          },
          ttl: this.#temporaryTtl,
        };
      }
      const site = [...new Set(hosts.map((h) => h.name))].sort().join(",");
      return { value: { kind: "hosts", site, via: "mx", hosts }, ttl };
    }
    // No MX: the domain itself is the implicit MX (RFC 5321 §5.1).
    const found = await this.addresses(domain);
    if (found.kind === "ok") {
      return {
        value: {
          kind: "hosts",
          site: domain.toLowerCase(),
          via: "implicit",
          hosts: [{ name: domain, preference: 0, addresses: found.addresses, port }],
        },
        ttl: Math.min(found.ttl, this.#ttlOf(mx)),
      };
    }
    if (found.kind === "error") {
      return {
        value: { kind: "temporary", reason: `DNS address lookup for ${domain} failed` },
        ttl: this.#temporaryTtl,
      };
    }
    return {
      value: { kind: "permanent", reason: `domain ${domain} has no MX and no address` },
      ttl: this.#config.dns.negativeTtl,
    };
  }
}
