/**
 * Relay policy: who may send to which recipients. Never an open relay: relaying to any domain
 * needs a client in a relay network (or, later, authentication); everyone else may only send to
 * domains this server accepts mail for (`smtp.local_domains`, none by default).
 */
import { BlockList, isIPv6 } from "node:net";

/** Decides relay permission for one client. */
export interface RelayPolicy {
  /** Whether the client may send to `domain`. */
  mayRelay(clientIp: string, authenticated: boolean, domain: string): boolean;
  /** Whether the client is in a relay network (trusted, as Postfix's $mynetworks). */
  isTrusted(clientIp: string): boolean;
}

/** Builds the policy from `smtp.relay_networks` and `smtp.local_domains`. */
export function relayPolicy(relayNetworks: string[], localDomains: string[]): RelayPolicy {
  const networks = new BlockList();
  for (const network of relayNetworks) {
    const [address, prefix] = network.split("/");
    const type = isIPv6(address) ? "ipv6" : "ipv4";
    if (prefix === undefined) networks.addAddress(address, type);
    else networks.addSubnet(address, Number(prefix), type);
  }
  const local = new Set(localDomains.map((d) => d.toLowerCase()));
  // Deno's BlockList.check builds a SocketAddress per call (a visible share of an SMTP worker's
  // CPU, asked at connect and at every RCPT): the answer per address is kept, the networks never
  // change for this policy object. Bounded, so a scan from many addresses cannot grow it.
  const trusted = new Map<string, boolean>();
  const inNetworks = (clientIp: string) => {
    let answer = trusted.get(clientIp);
    if (answer === undefined) {
      const ip = clientIp.replace(/^::ffff:/, "");
      answer = networks.check(ip, isIPv6(ip) ? "ipv6" : "ipv4");
      if (trusted.size >= TRUSTED_CACHE_SIZE) trusted.clear();
      trusted.set(clientIp, answer);
    }
    return answer;
  };
  return {
    isTrusted: inNetworks,
    mayRelay(clientIp, authenticated, domain) {
      if (authenticated) return true;
      if (local.has(domain.toLowerCase())) return true;
      return inNetworks(clientIp);
    },
  };
}

/** Client addresses whose relay-network answer is kept. */
const TRUSTED_CACHE_SIZE = 4_096;
