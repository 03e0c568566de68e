/**
 * The sending domain's live DNS check (core/manage/dns_check.ts) against a real DNS server on
 * loopback: a published DKIM key, SPF covering the vmta IPs (exact and CIDR), DMARC, the
 * bounce MX and forward-confirmed reverse DNS pass; a stale key, an IP outside SPF, a missing
 * DMARC and a PTR naming another host are each reported with what is wrong.
 */
import type { DnsRecord } from "../core/api/manage_schemas.ts";
import { checkDomainDns, spfCovers } from "../core/manage/dns_check.ts";
import { DnsClient } from "../core/routing/dns.ts";
import { assertEquals, assertMatch } from "./helpers/assert.ts";
import { startDnsServer } from "./helpers/dns_server.ts";

const RECORDS: DnsRecord[] = [
  {
    type: "TXT",
    name: "s1._domainkey.good.test",
    value: "v=DKIM1; k=rsa; p=KEY",
    purpose: "dkim",
    note: "",
  },
  { type: "TXT", name: "good.test", value: "v=spf1 ip4:127.0.0.12 -all", purpose: "spf", note: "" },
  { type: "TXT", name: "_dmarc.good.test", value: "v=DMARC1; p=none", purpose: "dmarc", note: "" },
  { type: "MX", name: "good.test", value: "10 mx.good.test", purpose: "bounce_mx", note: "" },
];

Deno.test("spfCovers: exact ip4, CIDR, and not", () => {
  assertEquals(spfCovers("v=spf1 ip4:127.0.0.12 -all", "127.0.0.12"), true);
  assertEquals(spfCovers("v=spf1 ip4:127.0.0.0/24 -all", "127.0.0.99"), true);
  assertEquals(spfCovers("v=spf1 ip4:127.0.1.0/24 -all", "127.0.0.99"), false);
  assertEquals(spfCovers("v=spf1 include:_spf.example -all", "127.0.0.12"), false);
});

Deno.test("live DNS check of a sending domain: what passes and what is named as wrong", async () => {
  await using dns = await startDnsServer({
    zones: {
      "s1._domainkey.good.test": { TXT: ["v=DKIM1; k=rsa; p=KEY"] },
      "good.test": {
        TXT: ["v=spf1 ip4:127.0.0.0/24 -all"],
        MX: [{ preference: 10, exchange: "mx.good.test" }],
      },
      "_dmarc.good.test": { TXT: ["v=DMARC1; p=none"] },
      "12.0.0.127.in-addr.arpa": { PTR: ["vmta12.good.test"] },
      "vmta12.good.test": { A: ["127.0.0.12"] },
      "13.0.0.127.in-addr.arpa": { PTR: ["elsewhere.test"] },
    },
  });
  const client = new DnsClient([{ ipAddr: "127.0.0.1", port: dns.port }], 2000);
  const good = await checkDomainDns(client, RECORDS, [{
    ip: "127.0.0.12",
    hostname: "vmta12.good.test",
  }]);
  assertEquals(good.map((c) => [c.what, c.ok]), [
    ["dkim", true],
    ["spf", true],
    ["dmarc", true],
    ["bounce_mx", true],
    ["fcrdns", true],
  ]);

  const bad = await checkDomainDns(
    client,
    RECORDS.map((r) =>
      r.purpose === "dkim"
        ? { ...r, value: "v=DKIM1; k=rsa; p=NEWKEY" }
        : r.purpose === "dmarc"
        ? { ...r, name: "_dmarc.other.test" }
        : r
    ),
    [{ ip: "127.0.0.13", hostname: "vmta13.good.test" }, { ip: "127.0.1.5", hostname: "x.test" }],
  );
  const byWhat = (what: string) => bad.filter((c) => c.what === what);
  assertEquals(byWhat("dkim")[0].ok, false);
  assertMatch(byWhat("dkim")[0].detail, /not this key/);
  assertMatch(byWhat("spf")[0].detail, /does not cover 127\.0\.1\.5/);
  assertMatch(byWhat("dmarc")[0].detail, /no DMARC record/);
  assertMatch(byWhat("fcrdns")[0].detail, /names elsewhere\.test, not the EHLO name/);
  assertMatch(byWhat("fcrdns")[1].detail, /no PTR/);
});
