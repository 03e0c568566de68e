/**
 * The quarantine store (core/store/quarantine.ts, migration 0010) on every database the store
 * supports here: SQLite, PostgreSQL and MariaDB. Failures are counted per lease (or broker
 * copy), survive reopening the store, quarantine at the limit (a quarantined unit is neither
 * leased nor due), and release / cancel do what docs/quarantine.md says.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { type TestDatabase, testDatabaseKinds } from "./helpers/databases.ts";
import { withStore } from "./helpers/store_contract.ts";
import type { SqlStore } from "../core/store/mod.ts";
import type { NewMessage, UnitOutcome } from "../core/contracts/mod.ts";
import { CANCELLED_REPLY, failureBackoffMs } from "../core/store/quarantine.ts";

const T0 = 1_750_000_000_000;
const LIMIT = 3;

let seq = 0;
function message(recipients: string[]): NewMessage {
  seq++;
  return {
    id: `q${Date.now().toString(36)}${seq.toString().padStart(5, "0")}`,
    sender: "sender@example.test",
    recipients,
    channel: "api",
    clientIp: null,
    receivedAt: T0,
    body: new TextEncoder().encode(`Subject: ${seq}\r\n\r\nbody\r\n`),
  };
}

const lease = (store: SqlStore, now: number) =>
  store.leaseDue({ owner: "node-a", token: crypto.randomUUID(), now, leaseMs: 60_000, limit: 10 });

const CASES: Record<string, (store: SqlStore, db: TestDatabase) => Promise<void>> = {
  "failures are counted per lease, survive a reopen and quarantine at the limit": async (
    store,
    db,
  ) => {
    const m = message(["a@x.test"]);
    await store.insertMessages([m]);
    let now = T0;
    for (let n = 1; n <= LIMIT; n++) {
      const [unit] = await lease(store, now);
      assert(unit, `leased before failure ${n}`);
      // A stale lease token counts nothing.
      const stale = await store.quarantine.recordFailures([{
        unitId: unit.unitId,
        messageId: m.id,
        leaseToken: "not-the-lease",
        reason: "dispatch: stale",
      }], { limit: LIMIT, now });
      assertEquals(stale[0].counted, false);
      // The count is read by a second store (another thread or a restarted node).
      const other = n === 2 ? await db.open("deliver") : store;
      try {
        const [record] = await other.quarantine.recordFailures([{
          unitId: unit.unitId,
          messageId: m.id,
          leaseToken: unit.leaseToken,
          reason: `dispatch: boom ${n}`,
        }], { limit: LIMIT, now });
        assertEquals(record.counted, true);
        assertEquals(record.failures, n);
        assertEquals(record.quarantined, n === LIMIT);
        if (n < LIMIT) {
          assertEquals(record.retryAt, now + failureBackoffMs(n));
          // Not due before its backoff, due after it.
          assertEquals((await lease(store, now + 1)).length, 0);
          now = record.retryAt!;
        }
      } finally {
        if (other !== store) await other.close();
      }
    }
    const [status] = await store.quarantine.units(m.id);
    assertEquals(status.state, "quarantined");
    assertEquals(status.failures, LIMIT);
    assertEquals(status.failure_reason, `dispatch: boom ${LIMIT}`);
    assertEquals(status.quarantined_at, now);
    assertEquals(await store.quarantine.quarantinedCount(), 1);
    // Neither leased nor due, however late.
    assertEquals((await lease(store, now + 86_400_000)).length, 0);
    assertEquals(await store.nextDueAt(), null);
  },

  "a broker copy counts by copy number; release moves the copy on and resets": async (store) => {
    const m = message(["a@x.test", "b@y.test"]);
    await store.insertMessages([m]);
    const unitId = `${m.id}.0`;
    const fail = (copy: number) =>
      store.quarantine.recordFailures(
        [{ unitId, messageId: m.id, leaseToken: "", copy, reason: "consume: boom" }],
        { limit: 2, now: T0 },
      );
    assertEquals((await fail(1))[0].counted, false); // not the live copy
    assertEquals((await fail(0))[0].quarantined, false);
    assertEquals((await fail(0))[0].quarantined, true);
    const [held] = await store.quarantine.quarantined(m.id);
    assertEquals(held.unitId, unitId);
    assertEquals(held.copy, 0);
    assertEquals(held.recipients, ["a@x.test"]);
    // A release at a copy that moved on does nothing; at the live one it releases.
    assertEquals(await store.quarantine.release(m.id, [{ unitId, copy: 5 }], T0), 0);
    assertEquals(await store.quarantine.release(m.id, [held], T0 + 5), 1);
    const units = await store.quarantine.units(m.id);
    assertEquals(units.map((u) => [u.state, u.failures]), [["queued", 0], ["queued", 0]]);
    const leased = await lease(store, T0 + 5);
    assertEquals(leased.map((u) => u.unitId).sort(), [unitId, `${m.id}.1`]);
  },

  "cancel fails the open recipients without a DSN; a late settle is lost": async (store) => {
    const m = message(["a@x.test"]);
    await store.insertMessages([m]);
    const [unit] = await lease(store, T0);
    const result = await store.quarantine.cancel(m.id, T0 + 1);
    assertEquals(result, { units: 1, recipients: 1 });
    const outcome: UnitOutcome = {
      unitId: unit.unitId,
      messageId: m.id,
      domain: unit.domain,
      leaseToken: unit.leaseToken,
      at: T0 + 2,
      durationMs: 1,
      sourceIp: null,
      mxHost: null,
      remoteIp: null,
      tls: false,
      results: [{ address: "a@x.test", outcome: "delivered", code: 250, reply: "ok" }],
      kind: "final",
    };
    assertEquals(await store.settle([outcome]), 1);
    const status = await store.messageStatus(m.id);
    assertEquals(status!.recipients[0].state, "failed");
    assertEquals(status!.recipients[0].last_reply, CANCELLED_REPLY);
    assertEquals((await store.quarantine.units(m.id))[0].state, "done");
    assertEquals(await store.claimDsns({ token: "claim:t:1", limit: 10 }), []);
  },

  "DSN failures count per claimed recipient and quarantine at the limit": async (store) => {
    const m = message(["a@x.test"]);
    await store.insertMessages([m]);
    const [unit] = await lease(store, T0);
    await store.settle([{
      unitId: unit.unitId,
      messageId: m.id,
      domain: unit.domain,
      leaseToken: unit.leaseToken,
      at: T0 + 1,
      durationMs: 1,
      sourceIp: null,
      mxHost: null,
      remoteIp: null,
      tls: false,
      results: [{ address: "a@x.test", outcome: "failed", code: 550, reply: "no such user" }],
      kind: "final",
    }]);
    for (let n = 1; n <= 2; n++) {
      const token = `claim:t:${n}`;
      const [work] = await store.claimDsns({ token, limit: 10 });
      assert(work, `claimed round ${n}`);
      const ids = work.recipients.map((r) => r.id);
      assertEquals(await store.quarantine.recordDsnFailures(ids, "claim:other", 2), 0);
      assertEquals(await store.quarantine.recordDsnFailures(ids, token, 2), n === 2 ? 1 : 0);
    }
    assertEquals(await store.quarantine.dsnQuarantined(m.id), ["a@x.test"]);
    assertEquals(await store.claimDsns({ token: "claim:t:3", limit: 10 }), []);
    await store.quarantine.release(m.id, [], T0);
    assertEquals(await store.quarantine.dsnQuarantined(m.id), []);
    assertEquals((await store.claimDsns({ token: "claim:t:4", limit: 10 })).length, 1);
  },
};

for (const kind of testDatabaseKinds()) {
  for (const [name, fn] of Object.entries(CASES)) {
    Deno.test({
      name: `quarantine store (${kind}): ${name}`,
      sanitizeOps: false,
      sanitizeResources: false,
      fn: () => withStore(kind, fn),
    });
  }
}
