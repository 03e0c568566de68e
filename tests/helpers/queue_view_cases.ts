/**
 * The queue views (core/store/queue_summary.ts, core/manage/queue_views.ts) on one store: open
 * units by domain, pool and vmta, counted by state through accept, defer, a pause hold, an
 * operator's hold (quarantined), cancel and delivery, and the pause shown on exactly its row.
 * Run on SQLite (tests/queue_view_test.ts) and on PostgreSQL and MariaDB
 * (tests/queue_ops.pg.mariadb_test.ts).
 */
import { assertEquals } from "./assert.ts";
import type { TestDatabase } from "./databases.ts";
import { lease, message, outcome } from "./store_contract.ts";
import type { QueueGrouping, SqlStore } from "../../core/store/mod.ts";
import { QueueService } from "../../core/manage/queue_service.ts";
import { queueView } from "../../core/manage/queue_views.ts";
import type { Actor } from "../../core/manage/types.ts";

const alice: Actor = { name: "alice", role: "operator", channel: "cli" };

type Case = (store: SqlStore, db: TestDatabase) => Promise<void>;

/** A view's rows as `key: [queued, deferred, paused, quarantined]`. */
async function counts(store: SqlStore, by: QueueGrouping) {
  const view = await store.openUnitsBy(by, 100);
  return Object.fromEntries(
    view.rows.map((r) => [r.key, [
      r.counts.queued,
      r.counts.deferred,
      r.counts.paused,
      r.counts.quarantined,
    ]]),
  );
}

export const QUEUE_VIEW_CASES: Record<string, Case> = {
  "queue views count by domain, pool and vmta through defer, hold, cancel and delivery": async (
    store,
    db,
  ) => {
    const q = new QueueService(store, db.config(), () => {});
    try {
      const bulk = message(["a@a.test", "b@b.test"], {
        receivedAt: Date.now(),
        meta: { pool: "bulk" },
      });
      const plain = message(["c@a.test"], { receivedAt: Date.now() });
      const later = message(["d@c.test"], { receivedAt: Date.now(), meta: { pool: "bulk" } });
      await store.insertMessages([bulk, plain]);
      assertEquals(await counts(store, "domain"), {
        "a.test": [2, 0, 0, 0],
        "b.test": [1, 0, 0, 0],
      });
      assertEquals(await counts(store, "pool"), { bulk: [2, 0, 0, 0], "": [1, 0, 0, 0] });
      assertEquals(await counts(store, "vmta"), { "": [3, 0, 0, 0] });

      // bulk→a.test deferred from 127.0.0.11, bulk→b.test held by a pause, plain delivered.
      const units = await lease(store, Date.now(), 100);
      assertEquals(units.length, 3);
      for (const u of units) {
        const result = (outcomeKind: "deferred" | "delivered") =>
          u.recipients.map((address) => ({
            address,
            outcome: outcomeKind,
            code: outcomeKind === "deferred" ? 451 : 250,
            reply: outcomeKind === "deferred" ? "4.7.1 later" : "2.0.0 ok",
          }));
        if (u.messageId === plain.id) {
          await store.settle([outcome(u, result("delivered"))]);
        } else if (u.domain === "a.test") {
          await store.settle([outcome(u, result("deferred"), {
            kind: "deferred",
            retryAt: Date.now() + 3_600_000,
            reason: "remote",
            sourceIp: "127.0.0.11",
          })]);
        } else {
          await store.settle([outcome(u, [], {
            kind: "held",
            reason: "paused",
            until: Date.now() + 3_600_000,
            why: "paused: pool bulk",
          })]);
        }
      }
      await store.insertMessages([later]);
      assertEquals(await counts(store, "domain"), {
        "a.test": [0, 1, 0, 0],
        "b.test": [0, 0, 1, 0],
        "c.test": [1, 0, 0, 0],
      });
      assertEquals(await counts(store, "pool"), { bulk: [1, 1, 1, 0] });
      assertEquals((await counts(store, "vmta"))["127.0.0.11"], [0, 1, 0, 0]);

      // An operator's hold quarantines; cancel ends the unit (it leaves every view).
      await q.act(alice, bulk.id, "hold", "checking");
      assertEquals(await counts(store, "pool"), { bulk: [1, 0, 0, 2] });
      await q.act(alice, later.id, "cancel");
      assertEquals(await counts(store, "domain"), {
        "a.test": [0, 0, 0, 1],
        "b.test": [0, 0, 0, 1],
      });
      await q.act(alice, bulk.id, "cancel");
      assertEquals(await counts(store, "domain"), {});
      assertEquals((await store.openUnitsBy("pool", 10)).counted, 0);
    } finally {
      await q.close();
    }
  },

  "a row shows the pause on exactly its scope": async (store, db) => {
    const q = new QueueService(store, db.config(), () => {});
    try {
      await store.insertMessages([
        message(["a@a.test"], { receivedAt: Date.now(), meta: { pool: "bulk" } }),
      ]);
      const byPool = await q.addPause(alice, { source_kind: "pool", source: "bulk" });
      await q.addPause(alice, { domain: "a.test", tag: "spring" }); // narrower: not the row's
      const pauses = await q.listPauses(alice);
      const pool = await queueView(store, pauses, "pool", 10);
      assertEquals(pool.rows.map((r) => [r.key, r.total, r.pause_id]), [["bulk", 1, byPool.id]]);
      const domain = await queueView(store, pauses, "domain", 10);
      assertEquals(domain.rows.map((r) => [r.key, r.pause_id]), [["a.test", null]]);
      const vmta = await queueView(store, pauses, "vmta", 10);
      assertEquals(vmta.rows.map((r) => [r.key, r.pause_id]), [["", null]]);
    } finally {
      await q.close();
    }
  },
};
