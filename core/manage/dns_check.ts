/**
 * The live DNS check of a sending domain, as the console runs it: the records the domain should
 * publish (dns_records.ts) against what the resolvers of `dns.servers` answer now — the DKIM
 * key's TXT matches the key, SPF covers every vmta IP, DMARC is present, the bounce MX points
 * where it should — and forward-confirmed reverse DNS of each vmta: the IP's PTR names the
 * vmta's EHLO hostname and that name resolves back to the IP.
 */
import type { DnsRecord } from "../api/manage_schemas.ts";
import type { DnsResult, DnsType } from "../routing/dns.ts";

/** What the check asks DNS. */
export interface DnsAsker {
  query<T extends DnsType>(name: string, type: T): Promise<DnsResult<T>>;
}

/** One finding. */
export interface DnsCheck {
  what: string;
  name: string;
  ok: boolean;
  detail: string;
}

const squash = (s: string) => s.replace(/\s+/g, "").replace(/"/g, "").toLowerCase();

function ipv4ToInt(ip: string): number | null {
  const parts = ip.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    return null;
  }
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

/** Whether an SPF record's ip4:/ip6: mechanisms cover `ip` (includes are not followed). */
export function spfCovers(spf: string, ip: string): boolean {
  const target = ipv4ToInt(ip);
  for (const term of spf.split(/\s+/)) {
    const m = /^[+]?ip([46]):([^/]+)(?:\/(\d+))?$/i.exec(term);
    if (!m) continue;
    if (m[2].toLowerCase() === ip.toLowerCase()) return true;
    if (m[1] === "4" && target !== null) {
      const base = ipv4ToInt(m[2]);
      const bits = m[3] === undefined ? 32 : Number(m[3]);
      const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
      if (base !== null && ((base & mask) >>> 0) === ((target & mask) >>> 0)) return true;
    }
  }
  return false;
}

function reverseName(ip: string): string | null {
  if (ipv4ToInt(ip) === null) return null; // IPv6 reverse names: not checked yet
  return ip.split(".").reverse().join(".") + ".in-addr.arpa";
}

function answer<T extends DnsType>(result: DnsResult<T>): string {
  return result.kind === "error" ? result.message : result.kind;
}

/** Checks `records` and each vmta's reverse DNS against live DNS. */
export async function checkDomainDns(
  dns: DnsAsker,
  records: DnsRecord[],
  vmtas: { ip: string; hostname: string }[],
): Promise<DnsCheck[]> {
  const checks: DnsCheck[] = [];
  for (const record of records) {
    if (record.type === "MX") {
      const found = await dns.query(record.name, "MX");
      const want = record.value.split(/\s+/).pop()!.replace(/\.$/, "").toLowerCase();
      const hosts = found.kind === "ok" ? found.records.map((r) => r.exchange.toLowerCase()) : [];
      checks.push({
        what: record.purpose,
        name: record.name,
        ok: hosts.includes(want),
        detail: hosts.length ? `MX ${hosts.join(", ")}` : `no MX (${answer(found)})`,
      });
      continue;
    }
    const found = await dns.query(record.name, "TXT");
    const texts = found.kind === "ok" ? found.records : [];
    if (record.purpose === "spf") {
      const spf = texts.find((t) => t.toLowerCase().startsWith("v=spf1"));
      const ips = vmtas.map((v) => v.ip);
      const missing = spf ? ips.filter((ip) => !spfCovers(spf, ip)) : ips;
      checks.push({
        what: "spf",
        name: record.name,
        ok: !!spf && missing.length === 0,
        detail: !spf
          ? `no SPF record (${answer(found)})`
          : missing.length
          ? `does not cover ${missing.join(", ")}`
          : `covers every vmta IP (${ips.join(", ")})`,
      });
    } else if (record.purpose === "dmarc") {
      const dmarc = texts.find((t) => t.toLowerCase().startsWith("v=dmarc1"));
      checks.push({
        what: "dmarc",
        name: record.name,
        ok: !!dmarc,
        detail: dmarc ?? `no DMARC record (${answer(found)})`,
      });
    } else {
      const match = texts.some((t) => squash(t) === squash(record.value));
      checks.push({
        what: record.purpose,
        name: record.name,
        ok: match,
        detail: match
          ? "matches the key"
          : texts.length
          ? "published, but not this key"
          : `not published (${answer(found)})`,
      });
    }
  }
  for (const vmta of vmtas) {
    const reverse = reverseName(vmta.ip);
    if (!reverse) continue;
    const ptr = await dns.query(reverse, "PTR");
    const names = ptr.kind === "ok" ? ptr.records.map((n) => n.toLowerCase()) : [];
    const named = names.includes(vmta.hostname.toLowerCase());
    const forward = named ? await dns.query(vmta.hostname, "A") : null;
    const back = forward?.kind === "ok" && forward.records.includes(vmta.ip);
    checks.push({
      what: "fcrdns",
      name: `${vmta.ip} (${vmta.hostname})`,
      ok: named && back,
      detail: !names.length
        ? `no PTR (${answer(ptr)})`
        : !named
        ? `PTR names ${names.join(", ")}, not the EHLO name ${vmta.hostname}`
        : back
        ? "PTR and A agree with the EHLO name"
        : `${vmta.hostname} does not resolve back to ${vmta.ip}`,
    });
  }
  return checks;
}
