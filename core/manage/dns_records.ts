/**
 * The DNS records a sending domain needs published: a DKIM TXT record per key (retired keys
 * too, until they are removed), an SPF suggestion covering the outbound (vmta) IPs for the
 * envelope sender's domain, a DMARC suggestion, and the bounce domain's MX when there is one.
 * SPF and DMARC are suggestions: merge them with what the domain publishes already.
 */
import type { DnsRecord } from "../api/manage_schemas.ts";
import { dnsRecordValue } from "../dkim/mod.ts";
import type { DkimKeyRecord } from "../store/mod.ts";

/** What the records depend on. */
export interface DnsRecordInput {
  name: string;
  bounceDomain: string | null;
  keys: readonly DkimKeyRecord[];
  /** The cluster's outbound source IPs (vmta objects, else `ip_addressess` with outbound). */
  vmtaIps: readonly string[];
  /** The host that receives bounces (smtp.hostname). */
  mxHost: string;
}

/** The records to publish, DKIM first. */
export function domainDnsRecords(input: DnsRecordInput): DnsRecord[] {
  const records: DnsRecord[] = [];
  for (const key of input.keys) {
    records.push({
      type: "TXT",
      name: `${key.selector}._domainkey.${input.name}`,
      value: dnsRecordValue(key.algorithm, key.publicKey),
      purpose: "dkim",
      note: key.retiredAt
        ? "retired: signs nothing; keep it until mail signed with it is no longer checked, " +
          "then remove the key"
        : "signs mail whose From domain is " + input.name,
    });
  }
  const envelopeDomain = input.bounceDomain ?? input.name;
  const mechanisms = input.vmtaIps.map((ip) => (ip.includes(":") ? `ip6:${ip}` : `ip4:${ip}`));
  records.push({
    type: "TXT",
    name: envelopeDomain,
    value: `v=spf1 ${mechanisms.length > 0 ? mechanisms.join(" ") : "a"} ~all`,
    purpose: "spf",
    note: mechanisms.length > 0
      ? "covers the outbound IPs (vmtas) of every node; merge it with an existing SPF " +
        "record (one per name)"
      : "no outbound IP is configured (ip_addressess): lists the domain's A record; " +
        "add your sending IPs",
  });
  records.push({
    type: "TXT",
    name: `_dmarc.${input.name}`,
    value: `v=DMARC1; p=none; rua=mailto:dmarc-reports@${input.name}`,
    purpose: "dmarc",
    note: "start with p=none, read the reports, then move to quarantine or reject",
  });
  if (input.bounceDomain) {
    records.push({
      type: "MX",
      name: input.bounceDomain,
      value: `10 ${input.mxHost}.`,
      purpose: "bounce_mx",
      note: "bounces to the envelope sender's domain reach this server",
    });
  }
  return records;
}

/** One record in zone-file form; TXT values split into ≤255-character strings. */
export function zoneFileLine(record: DnsRecord): string {
  if (record.type === "MX") return `${record.name}. IN MX ${record.value}`;
  const parts: string[] = [];
  for (let i = 0; i < record.value.length; i += 255) {
    parts.push(`"${record.value.slice(i, i + 255)}"`);
  }
  return `${record.name}. IN TXT ${parts.length > 1 ? `( ${parts.join(" ")} )` : parts[0]}`;
}
