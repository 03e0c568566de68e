/**
 * DNS for the fault tests: the destination and the senders' domain both have their MX on the
 * sink, so that DSNs reach it too and the ledger (accounting.ts) can count them.
 *
 * @module
 */
import type { DnsRecords } from "../helpers/dns_server.ts";
import { E2E_DOMAIN } from "../helpers/e2e_fixture.ts";

/** Zones for startE2eFixture's `zones`. */
export function faultZones(sinkIp: string): Record<string, DnsRecords> {
  return {
    [E2E_DOMAIN]: { MX: [{ preference: 10, exchange: `mx1.${E2E_DOMAIN}` }] },
    [`mx1.${E2E_DOMAIN}`]: { A: [sinkIp] },
    "origin.test": { MX: [{ preference: 10, exchange: "mx.origin.test" }] },
    "mx.origin.test": { A: [sinkIp] },
  };
}
