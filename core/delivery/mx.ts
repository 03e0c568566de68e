/**
 * Destination resolution: domain → ordered list of hosts to try. A route (transport map entry
 * for the domain or `*`) wins over DNS; otherwise MX by preference, with the domain's own A/AAAA
 * as implicit MX when it has none (RFC 5321 §5.1). A null MX (RFC 7505) or a domain that does not
 * exist fails permanently; a resolver that does not answer is temporary.
 *
 * Talks to: the DNS resolver in `dns.servers` (or the system's). Reads config: dns.*, routes,
 * delivery.remote_port.
 */
import type { Config } from "../config/mod.ts";

/** One host to try, with its addresses. */
export interface MxHost {
  name: string;
  preference: number;
  addresses: string[];
  port: number;
}

/** Where a domain's mail goes, or why it cannot go. */
export type Destination =
  | { kind: "hosts"; hosts: MxHost[] }
  | { kind: "permanent"; reason: string }
  | { kind: "temporary"; reason: string };

type ResolveOptions = Deno.ResolveDnsOptions;

function stripDot(name: string): string {
  return name.endsWith(".") ? name.slice(0, -1) : name;
}

function isIpLiteral(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(":");
}

/** Resolves destinations with a TTL cache. */
export class MxResolver {
  #config: Config;
  #cache = new Map<string, { expires: number; value: Destination }>();

  constructor(config: Config) {
    this.#config = config;
  }

  #options(): ResolveOptions {
    const server = this.#config.dns.servers[0];
    return server ? { nameServer: server } : {};
  }

  async #addresses(name: string): Promise<string[] | "notfound"> {
    if (isIpLiteral(name)) return [name];
    try {
      return await Deno.resolveDns(name, "A", this.#options());
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    try {
      return await Deno.resolveDns(name, "AAAA", this.#options());
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return "notfound";
      throw error;
    }
  }

  /** Resolves `domain`, from cache when fresh. */
  async resolve(domain: string): Promise<Destination> {
    const now = Date.now();
    const cached = this.#cache.get(domain);
    if (cached && cached.expires > now) return cached.value;
    const value = await this.#resolveUncached(domain);
    // Temporary failures are cached briefly so a dead resolver is not hammered per message.
    const ttl = value.kind === "temporary" ? 5_000 : this.#config.dns.cacheTtl;
    this.#cache.set(domain, { expires: now + ttl, value });
    if (this.#cache.size > 100_000) this.#cache.clear();
    return value;
  }

  async #resolveUncached(domain: string): Promise<Destination> {
    const route = this.#config.routes[domain] ?? this.#config.routes["*"];
    if (route) {
      try {
        const addresses = await this.#addresses(route.host);
        if (addresses === "notfound") {
          return { kind: "temporary", reason: `route host ${route.host} not found` };
        }
        return {
          kind: "hosts",
          hosts: [{ name: route.host, preference: 0, addresses, port: route.port }],
        };
      } catch (error) {
        return {
          kind: "temporary",
          reason: `cannot resolve ${route.host}: ${(error as Error).message}`,
        };
      }
    }
    const port = this.#config.delivery.remote_port;
    try {
      let records: Deno.MxRecord[] | null = null;
      try {
        records = await Deno.resolveDns(domain, "MX", this.#options());
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
      if (records && records.length > 0) {
        if (records.length === 1 && stripDot(records[0].exchange) === "") {
          return { kind: "permanent", reason: `domain ${domain} does not accept mail (null MX)` };
        }
        const sorted = [...records].sort((a, b) => a.preference - b.preference);
        const hosts: MxHost[] = [];
        for (const record of sorted) {
          const name = stripDot(record.exchange);
          if (name === "") continue;
          const addresses = await this.#addresses(name).catch(() => "notfound" as const);
          if (addresses === "notfound" || addresses.length === 0) continue;
          hosts.push({ name, preference: record.preference, addresses, port });
        }
        if (hosts.length === 0) {
          return { kind: "temporary", reason: `no MX host of ${domain} has an address` };
        }
        return { kind: "hosts", hosts };
      }
      // No MX: the domain itself is the implicit MX (RFC 5321 §5.1).
      const addresses = await this.#addresses(domain);
      if (addresses === "notfound" || addresses.length === 0) {
        return { kind: "permanent", reason: `domain ${domain} not found` };
      }
      return { kind: "hosts", hosts: [{ name: domain, preference: 0, addresses, port }] };
    } catch (error) {
      return {
        kind: "temporary",
        reason: `DNS lookup for ${domain} failed: ${(error as Error).message}`,
      };
    }
  }
}
