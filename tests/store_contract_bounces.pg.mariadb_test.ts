/**
 * The Store contract for issue 17's tables (migration 0013), on SQLite, PostgreSQL and MariaDB:
 * bounce reports (stored raw, claimed once, finished, released, purged), marking a delivered
 * recipient bounced, per-sender suppressions, the shared cluster secret and delayed-DSN claims.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { type TestDatabase, testDatabaseKinds } from "./helpers/databases.ts";
import type { SqlStore } from "../core/store/mod.ts";
import { lease, message, outcome, T0, withStore } from "./helpers/store_contract.ts";

const RAW = new Uint8Array([0x00, 0xff, 0x0d, 0x0a, 0x41]);

const CASES: Record<string, (store: SqlStore, db: TestDatabase) => Promise<void>> = {
  "bounce reports: stored raw, claimed by one claimer, finished, released, purged": async (
    store,
  ) => {
    const report = {
      id: "R000000000000001",
      receivedAt: T0,
      clientIp: "127.0.0.99",
      mailFrom: "",
      rcptTo: ["b+x@bounces.test"],
      raw: RAW,
      expiresAt: T0 + 1_000,
    };
    await store.saveBounceReport(report);
    const [first, second] = await Promise.all([
      store.claimBounceReports("claim:a:1", 10),
      store.claimBounceReports("claim:b:1", 10),
    ]);
    assertEquals(first.length + second.length, 1, "one claimer gets it");
    const got = [...first, ...second][0];
    assertEquals([...got.raw], [...RAW]);
    assertEquals(got.rcptTo, ["b+x@bounces.test"]);
    const owner = first.length ? "claim:a:" : "claim:b:";
    assertEquals(await store.releaseBounceReportClaims(owner), 1);
    assertEquals((await store.claimBounceReports("claim:c:1", 10, [report.id])).length, 1);
    await store.finishBounceReport(report.id, {
      state: "processed",
      kind: "hard_bounce",
      messageId: "M1",
      recipient: "bob@x.test",
      category: "bad_mailbox",
      status: "5.1.1",
      detail: "rfc3464; matched by verp",
      processedAt: T0 + 5,
    });
    const shown = await store.bounceReportsFor("M1");
    assertEquals(shown.map((r) => [r.state, r.kind, r.status]), [[
      "processed",
      "hard_bounce",
      "5.1.1",
    ]]);
    assertEquals(await store.claimBounceReports("claim:d:1", 10), []);
    assertEquals(await store.purgeBounceReports(T0 + 999), 0);
    assertEquals(await store.purgeBounceReports(T0 + 1_000), 1);
  },

  "a delivered recipient is marked bounced; others keep their state": async (store) => {
    const m = message(["a@x.test", "b@x.test"]);
    await store.insertMessages([m]);
    const [unit] = await lease(store, T0 + 1);
    await store.settle([outcome(unit, [
      { address: "a@x.test", outcome: "delivered", code: 250, reply: "250 ok" },
      { address: "b@x.test", outcome: "deferred", code: 451, reply: "451 later" },
    ], { kind: "deferred", retryAt: T0 + 60_000, reason: "remote" })]);
    const found = await store.bouncedMessage(m.id);
    assert(found);
    assertEquals(found.sender, "sender@example.test");
    const ids = found.recipients.map((r) => r.id);
    const changed = await store.markRecipientsBounced(ids, {
      reply: "asynchronous bounce: 550 5.1.1",
      category: "bad_mailbox",
      at: T0 + 20_000,
    });
    assertEquals(changed, 1);
    const states = (await store.bouncedMessage(m.id))!.recipients.map((r) => [r.address, r.state]);
    assertEquals(states, [["a@x.test", "bounced"], ["b@x.test", "deferred"]]);
    assertEquals((await store.counts(T0 + 30_000)).bounced, 1);
    assertEquals(await store.bouncedMessage("nope"), null);
  },

  "per-sender suppressions apply to their sending domain only; global ones keep a source": async (
    store,
  ) => {
    await store.addSenderSuppressions([{
      senderDomain: "Shop.test",
      address: "Bob@X.test",
      category: "complaint",
      reason: "arf",
      source: "complaint",
      messageId: "M1",
      createdAt: T0,
      expiresAt: T0 + 1_000,
    }]);
    assertEquals(
      (await store.senderSuppressions("shop.test", ["bob@x.test", "c@x.test"], T0)).map((s) => [
        s.address,
        s.source,
      ]),
      [["bob@x.test", "complaint"]],
    );
    assertEquals(await store.senderSuppressions("other.test", ["bob@x.test"], T0), []);
    assertEquals(await store.senderSuppressions("shop.test", ["bob@x.test"], T0 + 1_000), []);
    await store.addSuppressions([{
      address: "d@x.test",
      category: "bad_mailbox",
      code: 550,
      reason: "dsn",
      messageId: "M1",
      createdAt: T0,
      expiresAt: T0 + 1_000,
      source: "dsn",
    }]);
    assertEquals((await store.suppressions(["d@x.test"], T0)).map((s) => s.source), ["dsn"]);
  },

  "the cluster secret is made once and shared": async (store, db) => {
    const first = await store.clusterSecret("k", () => "one");
    const other = await db.open("admin");
    try {
      assertEquals(await other.clusterSecret("k", () => "two"), first);
    } finally {
      await other.close();
    }
    assertEquals(first, "one");
  },

  "delayed-DSN claims: deferred recipients of old enough messages, once": async (store) => {
    const m = message(["a@x.test", "b@x.test"]);
    await store.insertMessages([m]);
    const [unit] = await lease(store, T0 + 1);
    await store.settle([outcome(unit, [
      { address: "a@x.test", outcome: "deferred", code: 451, reply: "451 later" },
      { address: "b@x.test", outcome: "delivered", code: 250, reply: "250 ok" },
    ], { kind: "deferred", retryAt: T0 + 60_000, reason: "remote" })]);
    assertEquals(await store.claimDelayed("delay:a:1", T0, 10), [], "not old enough");
    const work = await store.claimDelayed("delay:a:2", T0 + 1, 10);
    assertEquals(work.map((w) => w.recipients.map((r) => r.address)), [["a@x.test"]]);
    assertEquals(await store.claimDelayed("delay:b:1", T0 + 1, 10), [], "claimed already");
    assertEquals(await store.releaseDelayedClaims("delay:a:"), 1);
    const again = await store.claimDelayed("delay:b:2", T0 + 1, 10);
    await store.finishDelayed(again[0].recipients.map((r) => r.id), "sent");
    assertEquals(await store.claimDelayed("delay:c:1", T0 + 1, 10), [], "sent once");
  },
};

for (const kind of testDatabaseKinds()) {
  for (const [name, fn] of Object.entries(CASES)) {
    Deno.test(`store contract [${kind}]: ${name}`, () => withStore(kind, fn));
  }
}
