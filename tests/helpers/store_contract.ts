/**
 * What the Store contract tests (tests/store_contract_*.pg.mariadb_test.ts) share: new messages,
 * outcomes, leasing and a freshly migrated store over a fresh database.
 */
import { createTestDatabase, type TestDatabase, type TestDatabaseKind } from "./databases.ts";
import type { SqlStore } from "../../core/store/mod.ts";
import type {
  HoldReason,
  NewMessage,
  OutcomeFacts,
  RetryReason,
  UnitOutcome,
} from "../../core/contracts/mod.ts";

/** The clock the contract cases start at. */
export const T0 = 1_750_000_000_000;

let seq = 0;
/** A new message to the given recipients, with a unique id and a small body. */
export function message(recipients: string[], extra: Partial<NewMessage> = {}): NewMessage {
  seq++;
  return {
    id: `m${Date.now().toString(36)}${seq.toString().padStart(5, "0")}`,
    sender: "sender@example.test",
    recipients,
    channel: "smtp",
    clientIp: "127.0.0.1",
    receivedAt: T0,
    body: new TextEncoder().encode(`Subject: ${seq}\r\n\r\nbody ${seq}\r\n`),
    ...extra,
  };
}

/** Which outcome, and any facts to set (the rest have defaults). */
export type OutcomeExtra =
  & Partial<OutcomeFacts>
  & (
    | { kind: "final" }
    | { kind: "deferred"; retryAt: number; reason: RetryReason }
    | { kind: "held"; reason: HoldReason; until: number; why: string }
  );

/** The outcome of a leased unit, with plausible defaults for the facts. */
export function outcome(
  unit: { unitId: string; messageId: string; domain: string; leaseToken: string },
  results: UnitOutcome["results"],
  extra: OutcomeExtra = { kind: "final" },
): UnitOutcome {
  return {
    unitId: unit.unitId,
    messageId: unit.messageId,
    domain: unit.domain,
    leaseToken: unit.leaseToken,
    at: T0 + 10_000,
    durationMs: 12.4,
    sourceIp: "127.0.0.10",
    mxHost: "mx.example.test",
    remoteIp: "127.0.0.20",
    tls: false,
    results,
    ...extra,
  };
}

/** Leases up to `limit` due units as `owner`. */
export const lease = (
  store: SqlStore,
  now: number,
  limit = 100,
  leaseMs = 60_000,
  owner = "node-a",
) => store.leaseDue({ owner, token: crypto.randomUUID(), now, leaseMs, limit });

/** Runs `fn` on a freshly migrated store over a fresh database, then drops the database. */
export async function withStore(
  kind: TestDatabaseKind,
  fn: (store: SqlStore, db: TestDatabase) => Promise<void>,
): Promise<void> {
  const db = await createTestDatabase(kind);
  try {
    const store = await db.open();
    try {
      await store.migrate();
      await fn(store, db);
    } finally {
      await store.close();
    }
  } finally {
    await db.drop();
  }
}
