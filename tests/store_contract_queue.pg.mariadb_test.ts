/**
 * The Store contract for the delivery queue (leasing, settling, deferring, holding, counts and
 * the unconfirmed sweep), run unchanged against SQLite, PostgreSQL and MariaDB. Each case gets its
 * own freshly created database (helpers/databases.ts) and drops it at the end.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { type TestDatabase, testDatabaseKinds } from "./helpers/databases.ts";
import type { SqlStore } from "../core/store/mod.ts";
import { lease, message, outcome, T0, withStore } from "./helpers/store_contract.ts";

const CASES: Record<string, (store: SqlStore, db: TestDatabase) => Promise<void>> = {
  "two concurrent leasers get disjoint sets": async (store, db) => {
    const messages = Array.from({ length: 120 }, (_, i) => message([`r${i}@d${i}.test`]));
    await store.insertMessages(messages);
    // Two pools on a server database. SQLite serialises leasers on its write lock; its
    // connections block their thread while they wait, so the second leaser there shares the
    // first one's connection (in the server, each thread has its own).
    const other = db.kind === "sqlite3" ? store : await db.open("deliver");
    try {
      const [a, b] = await Promise.all([
        lease(store, T0, 70, 60_000, "node-a"),
        lease(other, T0, 70, 60_000, "node-b"),
      ]);
      // SKIP LOCKED may pass over a row the other leaser's scan locked without taking it
      // (InnoDB, seen once in 120 under load): a leaser may get fewer than it could, never a
      // unit twice, and whatever neither took is there for the next lease.
      const rest = await lease(store, T0, 120);
      const ids = [...a, ...b, ...rest].map((u) => u.unitId);
      assertEquals(new Set(ids).size, ids.length, "a unit was leased twice");
      assertEquals(ids.length, 120);
      assert(a.length > 0 && b.length > 0, `the two leasers took only ${a.length} + ${b.length}`);
      assertEquals((await lease(store, T0, 100)).length, 0);
    } finally {
      if (other !== store) await other.close();
    }
  },

  "leasing takes the oldest due first and respects the limit": async (store) => {
    const late = message(["a@late.test"], { receivedAt: T0 + 5_000 });
    const early = message(["a@early.test"], { receivedAt: T0 - 5_000 });
    const future = message(["a@future.test"], { receivedAt: T0 + 60_000 });
    await store.insertMessages([late, early, future]);
    const first = await lease(store, T0 + 10_000, 1);
    assertEquals(first.map((u) => u.domain), ["early.test"]);
    const rest = await lease(store, T0 + 10_000, 10);
    assertEquals(rest.map((u) => u.domain), ["late.test"]);
  },

  "an expired lease is due again": async (store) => {
    await store.insertMessages([message(["a@x.test"])]);
    const [first] = await lease(store, T0, 10, 1_000);
    assertEquals((await lease(store, T0 + 999, 10)).length, 0);
    const [again] = await lease(store, T0 + 1_000, 10, 1_000);
    assertEquals(again.unitId, first.unitId);
    assertEquals(again.attempts, 2);
    assert(again.leaseToken !== first.leaseToken);
    // The first holder's outcome now arrives too late: it is logged, not applied.
    const lost = await store.settle([outcome(first, [
      { address: "a@x.test", outcome: "delivered", code: 250, reply: "250 ok" },
    ])]);
    assertEquals(lost, 1);
    assertEquals((await store.counts(T0 + 1_000)).queued, 1);
  },

  "settle with the right token records the outcome": async (store) => {
    const m = message(["a@x.test", "b@x.test", "c@x.test"]);
    await store.insertMessages([m]);
    const [unit] = await lease(store, T0);
    const lost = await store.settle([outcome(unit, [
      { address: "a@x.test", outcome: "delivered", code: 250, reply: "250 2.0.0 ok" },
      { address: "b@x.test", outcome: "delivered", code: 250, reply: "250 2.0.0 ok" },
      { address: "c@x.test", outcome: "failed", code: 550, reply: "550 5.1.1 no such user" },
    ], {
      kind: "final",
      tls: true,
      tlsVersion: "TLSv1.3",
      tlsVerified: true,
      site: "mx.example.test",
      pool: "default",
      nodeId: "node-a",
    })]);
    assertEquals(lost, 0);
    const status = await store.messageStatus(m.id);
    assert(status);
    assertEquals(
      status.recipients.map((r) => [r.address, r.state, r.attempts, r.last_code]),
      [
        ["a@x.test", "delivered", 1, 250],
        ["b@x.test", "delivered", 1, 250],
        ["c@x.test", "failed", 1, 550],
      ],
    );
    assertEquals(status.attempts.length, 3);
    assertEquals(status.attempts[2], {
      at: T0 + 10_000,
      recipient: "c@x.test",
      outcome: "failed",
      code: 550,
      reply: "550 5.1.1 no such user",
      source_ip: "127.0.0.10",
      mx_host: "mx.example.test",
      remote_ip: "127.0.0.20",
      tls: 1,
      tls_version: "TLSv1.3",
      tls_verified: 1,
      duration_ms: 12,
      reason: null,
      site: "mx.example.test",
      pool: "default",
      node_id: "node-a",
    });
    assertEquals(await store.nextDueAt(), null);
    assertEquals((await lease(store, T0 + 1e9)).length, 0);
  },

  "a held unit is due again later without using an attempt": async (store) => {
    const m = message(["a@x.test", "b@x.test"]);
    await store.insertMessages([m]);
    const [unit] = await lease(store, T0);
    assertEquals(unit.attempts, 1);
    const lost = await store.settle([outcome(unit, [
      // Screened out before the hold: recorded like any result.
      { address: "b@x.test", outcome: "suppressed", code: 550, reply: "550 suppressed" },
    ], { kind: "held", reason: "paused", until: T0 + 50_000, why: "paused by rule" })]);
    assertEquals(lost, 0);
    assertEquals(await store.nextDueAt(), T0 + 50_000);
    const [again] = await lease(store, T0 + 50_000);
    assertEquals(again.attempts, 1, "the hold gave the attempt back");
    assertEquals(again.recipients, ["a@x.test"]);
    const status = await store.messageStatus(m.id);
    assertEquals(status?.recipients.map((r) => r.state), ["queued", "suppressed"]);
    // A final failure owes a DSN: claimable right after the settle.
    const work = await store.claimDsns({ token: "claim:t1", limit: 10 });
    assertEquals(work.map((w) => w.recipients.map((r) => r.address)), [["b@x.test"]]);
  },

  "settle with a wrong token changes nothing but the log": async (store) => {
    const m = message(["a@x.test"]);
    await store.insertMessages([m]);
    const [unit] = await lease(store, T0);
    const lost = await store.settle([outcome({ ...unit, leaseToken: "not-the-token" }, [
      { address: "a@x.test", outcome: "delivered", code: 250, reply: "250 ok" },
    ])]);
    assertEquals(lost, 1);
    const status = await store.messageStatus(m.id);
    assertEquals(status?.recipients[0].state, "queued");
    assertEquals(status?.attempts.length, 1);
    // The real holder can still settle.
    assertEquals(
      await store.settle([outcome(unit, [
        { address: "a@x.test", outcome: "delivered", code: 250, reply: "250 ok" },
      ])]),
      0,
    );
    assertEquals((await store.messageStatus(m.id))?.recipients[0].state, "delivered");
  },

  "a deferral makes the unit due at its retry time": async (store) => {
    await store.insertMessages([message(["a@x.test", "b@x.test"])]);
    const [unit] = await lease(store, T0);
    await store.settle([outcome(unit, [
      { address: "a@x.test", outcome: "delivered", code: 250, reply: "250 ok" },
      { address: "b@x.test", outcome: "deferred", code: 451, reply: "451 try later" },
    ], { kind: "deferred", retryAt: T0 + 300_000, reason: "remote" })]);
    assertEquals(await store.nextDueAt(), T0 + 300_000);
    assertEquals((await lease(store, T0 + 299_999)).length, 0);
    const [again] = await lease(store, T0 + 300_000);
    // Only the recipient still to do is leased.
    assertEquals(again.recipients, ["b@x.test"]);
    assertEquals(again.attempts, 2);
  },

  "releaseLeases makes one owner's units due now": async (store) => {
    await store.insertMessages([
      message(["a@x.test"]),
      message(["a@y.test"]),
      message(["a@z.test"]),
    ]);
    const mine = await lease(store, T0, 2, 600_000, "node-a");
    const theirs = await lease(store, T0, 1, 600_000, "node-b");
    assertEquals([mine.length, theirs.length], [2, 1]);
    assertEquals(await store.releaseLeases("node-a", T0 + 5), 2);
    assertEquals(await store.releaseLeases("node-a", T0 + 5), 0);
    assertEquals(await store.nextDueAt(), T0 + 5);
    const again = await lease(store, T0 + 5, 10);
    assertEquals(again.map((u) => u.unitId).sort(), mine.map((u) => u.unitId).sort());
  },

  "nextDueAt and counts follow the queue": async (store) => {
    assertEquals(await store.nextDueAt(), null);
    assertEquals(await store.counts(T0), {
      queued: 0,
      deferred: 0,
      delivered: 0,
      failed: 0,
      suppressed: 0,
      bounced: 0,
      in_flight_units: 0,
    });
    await store.insertMessages([
      message(["a@x.test", "b@x.test"], { receivedAt: T0 + 50 }),
      message(["c@y.test"], { receivedAt: T0 + 20 }),
    ]);
    assertEquals(await store.nextDueAt(), T0 + 20);
    const [unit] = await lease(store, T0 + 20, 1, 1_000);
    assertEquals(unit.domain, "y.test");
    assertEquals(await store.nextDueAt(), T0 + 50);
    assertEquals((await store.counts(T0 + 30)).in_flight_units, 1);
    // An expired lease is no longer in flight.
    assertEquals((await store.counts(T0 + 20 + 1_000)).in_flight_units, 0);
    await store.settle([outcome(unit, [
      { address: "c@y.test", outcome: "deferred", code: 421, reply: "421 busy" },
    ], { kind: "deferred", retryAt: T0 + 900, reason: "remote" })]);
    assertEquals(await store.counts(T0 + 30), {
      queued: 2,
      deferred: 1,
      delivered: 0,
      failed: 0,
      suppressed: 0,
      bounced: 0,
      in_flight_units: 0,
    });
  },

  "messageStatus describes a message": async (store) => {
    assertEquals(await store.messageStatus("unknown"), null);
    const m = message(["a@x.test"], {
      channel: "api",
      meta: { campaign: "c1", api_key: "shop" },
    });
    await store.insertMessages([m]);
    const status = await store.messageStatus(m.id);
    assertEquals(status, {
      id: m.id,
      sender: m.sender,
      createdAt: T0,
      size: m.body.byteLength,
      channel: "api",
      apiKey: "shop", // the sending key, kept in the meta by core/inbound/api.ts
      recipients: [{
        address: "a@x.test",
        state: "queued",
        attempts: 0,
        last_code: null,
        last_reply: null,
      }],
      attempts: [],
    });
  },

  "a large batch inserts in one call and settles in one call": async (store) => {
    const messages = Array.from(
      { length: 1_200 },
      (_, i) => message([`a${i}@d${i % 50}.test`, `b${i}@d${i % 50}.test`]),
    );
    await store.insertMessages(messages);
    assertEquals((await store.counts(T0)).queued, 2_400);
    const units = await lease(store, T0, 1_200);
    assertEquals(units.length, 1_200);
    const lost = await store.settle(units.map((u) =>
      outcome(
        u,
        u.recipients.map((address) => ({
          address,
          outcome: "delivered" as const,
          code: 250,
          reply: "250 ok",
        })),
      )
    ));
    assertEquals(lost, 0);
    assertEquals((await store.counts(T0)).delivered, 2_400);
  },

  "unconfirmed messages (broker queue) are left out of counts and the list until confirmed": async (
    store,
  ) => {
    const plain = message(["a@x.test"]);
    const marked = [message(["a@x.test", "b@y.test"]), message(["c@x.test"])];
    await store.insertMessages([plain]);
    await store.insertMessages(marked, { unconfirmedSince: T0 });
    const flags = await store.db.selectFrom("messages").select(["id", "unconfirmed_since"])
      .orderBy("id").execute();
    assertEquals(
      flags.map((r) => [r.id, r.unconfirmed_since === null ? null : Number(r.unconfirmed_since)]),
      [[plain.id, null], [marked[0].id, T0], [marked[1].id, T0]],
    );
    assertEquals((await store.counts(T0)).queued, 1);
    assertEquals((await store.listMessages({ limit: 10 })).map((m) => m.id), [plain.id]);
    await store.confirmMessages(marked.map((m) => m.id));
    assertEquals((await store.counts(T0)).queued, 4);
    assertEquals((await store.listMessages({ limit: 10 })).length, 3);
    const left = await store.db.selectFrom("messages").select("id")
      .where("unconfirmed_since", "is not", null).execute();
    assertEquals(left, []);
  },

  "the unconfirmed sweep removes old orphans only, keeps settled ones, twice at once is safe":
    async (store, db) => {
      const grace = 600_000;
      const orphans = Array.from({ length: 5 }, () => message(["a@x.test", "b@y.test"]));
      const young = message(["a@x.test"]);
      const confirmed = message(["a@x.test"]);
      const settled = message(["a@x.test"]); // its node died after the confirm, before the UPDATE
      await store.insertMessages(orphans, { unconfirmedSince: T0 - grace - 1 });
      await store.insertMessages([settled], { unconfirmedSince: T0 - grace - 1 });
      await store.insertMessages([young], { unconfirmedSince: T0 - grace + 1 });
      await store.insertMessages([confirmed]);
      await store.db.updateTable("queue").set({ copy_seq: 1 })
        .where("message_id", "=", settled.id).execute();
      const other = await db.open("admin");
      try {
        // Two nodes sweep at once, two messages per pass, until a pass finds less than that.
        const sweep = async (s: SqlStore) => {
          let removed = 0;
          for (;;) {
            const r = await s.sweepUnconfirmed(T0 - grace, 2);
            removed += r.removed;
            if (r.found < 2) return removed;
          }
        };
        // (SQLite: one after the other. Its connections here share one thread, and a second
        // writer would block that thread waiting for the first.)
        const removed = store.dialect === "sqlite3"
          ? [await sweep(store), await sweep(other)]
          : await Promise.all([sweep(store), sweep(other)]);
        assertEquals(removed[0] + removed[1], orphans.length, JSON.stringify(removed));
        assertEquals(await sweep(other), 0);
      } finally {
        await other.close();
      }
      const ids = orphans.map((m) => m.id);
      for (const table of ["queue", "recipients"] as const) {
        const rows = await store.db.selectFrom(table).select("message_id")
          .where("message_id", "in", ids).execute();
        assertEquals(rows, [], `${table} rows of swept messages`);
      }
      const rest = await store.db.selectFrom("messages").select(["id", "unconfirmed_since"])
        .orderBy("id").execute();
      assertEquals(
        rest.map((r) => [r.id, r.unconfirmed_since === null ? null : Number(r.unconfirmed_since)]),
        [[young.id, T0 - grace + 1], [confirmed.id, null], [settled.id, null]],
      );
      assertEquals((await store.counts(T0)).queued, 2); // confirmed + settled; young hidden
    },
};

for (const kind of testDatabaseKinds()) {
  for (const [name, fn] of Object.entries(CASES)) {
    Deno.test(`store contract [${kind}]: ${name}`, () => withStore(kind, fn));
  }
}
