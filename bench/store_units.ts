/**
 * The store loop's shared pieces for the store benchmarks (bench/store.ts, store_statements.ts,
 * lease_path.ts): lease everything due in batches, and a delivered outcome for a leased unit.
 * Typed structurally, so a store from another checkout (store_statements.ts's TREE=) fits.
 */
import type { LeasedUnit, UnitOutcome } from "../core/contracts/mod.ts";

/** What leaseAll needs of a store. */
export interface LeasingStore {
  leaseDue(options: {
    owner: string;
    token: string;
    now: number;
    leaseMs: number;
    limit: number;
  }): Promise<LeasedUnit[]>;
}

/** Leases up to `total` due units, `batch` at a time, until none is left. */
export async function leaseAll(
  store: LeasingStore,
  total: number,
  batch: number,
  now: number,
): Promise<LeasedUnit[]> {
  const units: LeasedUnit[] = [];
  while (units.length < total) {
    const leased = await store.leaseDue({
      owner: "bench",
      token: crypto.randomUUID(),
      now,
      leaseMs: 600_000,
      limit: batch,
    });
    if (leased.length === 0) break;
    units.push(...leased);
  }
  return units;
}

/** Every recipient of `unit` delivered at `at` by a loopback MX. */
export function deliveredOutcome(unit: LeasedUnit, at: number): UnitOutcome {
  return {
    unitId: unit.unitId,
    messageId: unit.messageId,
    domain: unit.domain,
    leaseToken: unit.leaseToken,
    at,
    durationMs: 5,
    sourceIp: "127.0.0.10",
    mxHost: "mx.test",
    remoteIp: "127.0.0.20",
    tls: false,
    results: unit.recipients.map((address) => ({
      address,
      outcome: "delivered" as const,
      code: 250,
      reply: "250 ok",
    })),
    kind: "final",
  };
}
