/**
 * Queue operations (core/manage/queue_service.ts over core/store/queue_search.ts and
 * queue_ops.ts) on one store, the embedded queue: every search field, the actions on a message,
 * a bulk job in chunks with its cursor, pauses, roles and bad input. Run on SQLite
 * (tests/queue_ops_test.ts) and on PostgreSQL and MariaDB (tests/queue_ops.pg.mariadb_test.ts).
 */
import { assert, assertEquals, assertRejects } from "./assert.ts";
import type { TestDatabase } from "./databases.ts";
import { lease, message, outcome, T0 } from "./store_contract.ts";
import type { SqlStore } from "../../core/store/mod.ts";
import { QueueService } from "../../core/manage/queue_service.ts";
import { JOB_CHUNK } from "../../core/manage/bulk_jobs.ts";
import {
  type Actor,
  ForbiddenError,
  NotFoundError,
  ValidationError,
} from "../../core/manage/types.ts";
import { listAudit } from "../../core/manage/audit.ts";

const alice: Actor = { name: "alice", role: "operator", channel: "cli" };
const viewer: Actor = { name: "vera", role: "viewer", channel: "api" };

/** The error `fn` rejects with, which must be a `type`. */
async function rejects<E extends Error>(
  fn: () => unknown,
  type: new (...args: never[]) => E,
): Promise<E> {
  const error = await assertRejects(fn);
  assert(error instanceof type, `expected ${type.name}, got ${error}`);
  return error;
}

type Case = (store: SqlStore, db: TestDatabase) => Promise<void>;

function service(store: SqlStore, db: TestDatabase) {
  return new QueueService(store, db.config(), () => {});
}

/** A message accepted now, so ages count from now. */
function fresh(recipients: string[], extra: Parameters<typeof message>[1] = {}) {
  return message(recipients, { receivedAt: Date.now(), ...extra });
}

export const QUEUE_OPS_CASES: Record<string, Case> = {
  "search finds units by every indexed field and pages by id": async (store, db) => {
    const q = service(store, db);
    try {
      const a = fresh(["x@a.test", "y@b.test"], {
        sender: "news@shop.test",
        meta: { pool: "bulk", tag: "spring" },
      });
      const b = fresh(["z@a.test"], { meta: { metadata: { tag: "autumn" } } });
      const old = message(["o@c.test"], { receivedAt: Date.now() - 3 * 86_400_000 });
      await store.insertMessages([a, b, old]);
      const ids = async (filter: Record<string, unknown>) =>
        (await q.search(alice, filter)).items.map((u) => u.unit_id).sort();
      assertEquals((await ids({ id: a.id })).length, 2);
      assertEquals(await ids({ sender: "news@shop.test" }), await ids({ id: a.id }));
      const toZ = (await q.search(alice, { recipient: "z@a.test" })).items;
      assertEquals(toZ.map((u) => [u.message_id, u.domain]), [[b.id, "a.test"]]);
      assertEquals((await ids({ domain: "a.test" })).length, 2);
      assertEquals((await ids({ domain: "A.TEST" })).length, 2);
      assertEquals((await ids({ pool: "bulk" })).length, 2);
      assertEquals((await ids({ tag: "autumn" })).length, 1);
      assertEquals((await ids({ tag: "spring", domain: "b.test" })).length, 1);
      assertEquals((await ids({ min_age: "2d" })).length, 1);
      assertEquals((await ids({ max_age: "1h" })).length, 3);
      assertEquals((await ids({ state: "queued" })).length, 4);
      assertEquals((await ids({ state: "deferred" })).length, 0);
      // Pages: keyset on the unit id.
      const first = await q.search(alice, {}, { limit: 3 });
      assertEquals(first.items.length, 3);
      assert(first.next_cursor);
      const second = await q.search(alice, {}, { limit: 3, cursor: first.next_cursor });
      assertEquals(second.items.length, 1);
      assertEquals(second.next_cursor, undefined);
      // A deferred unit with a reply; search by reply text and by vmta (source IP).
      const units = await lease(store, Date.now(), 100);
      assertEquals(units.length, 4);
      for (const u of units) {
        await store.settle([outcome(
          u,
          u.recipients.map((address) => ({
            address,
            outcome: "deferred" as const,
            code: 451,
            reply: "4.7.1 greylisted_100% try later",
          })),
          { kind: "deferred", retryAt: Date.now() + 3_600_000, reason: "remote" },
        )]);
      }
      assertEquals((await ids({ state: "deferred" })).length, 4);
      assertEquals((await ids({ reply: "greylisted_100%" })).length, 4);
      assertEquals((await ids({ reply: "100%x" })).length, 0);
      assertEquals((await ids({ vmta: "127.0.0.10" })).length, 4);
      assertEquals((await ids({ vmta: "127.0.0.99" })).length, 0);
    } finally {
      await q.close();
    }
  },

  "bad filters name the field; viewers may search but not act": async (store, db) => {
    const q = service(store, db);
    try {
      const e = await rejects(() => q.search(alice, { state: "lost" }), ValidationError);
      assertEquals(e.issues[0].path, "filter.state");
      const f = await rejects(() => q.search(alice, { color: "red" }), ValidationError);
      assert(f.message.includes("color"), f.message);
      const g = await rejects(() => q.search(alice, { min_age: "soon" }), ValidationError);
      assertEquals(g.issues[0].path, "filter.min_age");
      await q.search(viewer, {});
      await rejects(() => q.act(viewer, "m1", "retry"), ForbiddenError);
      await rejects(() => q.addPause(viewer, { domain: "x.test" }), ForbiddenError);
      await rejects(() => q.act(alice, "no-such", "retry"), NotFoundError);
      const h = await rejects(() => q.act(alice, "m1", "explode"), ValidationError);
      assertEquals(h.issues[0].path, "action");
      const p = await rejects(() => q.addPause(alice, {}), ValidationError);
      assert(p.message.includes("a pause needs"), p.message);
      const s = await rejects(() => q.addPause(alice, { source: "bulk" }), ValidationError);
      assertEquals(s.issues[0].path, "source_kind");
      const b = await rejects(
        () => q.bulk(alice, { action: "retry", filter: { domain: 5 } }),
        ValidationError,
      );
      assertEquals(b.issues[0].path, "filter.domain");
    } finally {
      await q.close();
    }
  },

  "retry now makes a deferred unit due now; a leased one is left alone": async (store, db) => {
    const q = service(store, db);
    try {
      const m = fresh(["a@x.test"]);
      await store.insertMessages([m]);
      const [u] = await lease(store, Date.now());
      await store.settle([
        outcome(u, [{ address: "a@x.test", outcome: "deferred", code: 451, reply: "later" }], {
          kind: "deferred",
          retryAt: Date.now() + 3_600_000,
          reason: "remote",
        }),
      ]);
      assertEquals(await lease(store, Date.now()), []);
      assertEquals((await q.act(alice, m.id, "retry")).units, 1);
      const [again] = await lease(store, Date.now());
      assertEquals(again?.unitId, u.unitId);
      // Leased now: retry changes nothing.
      assertEquals((await q.act(alice, m.id, "retry")).units, 0);
      const audit = await listAudit(store, { kind: "message", object_id: m.id });
      assertEquals(audit.items.map((e) => e.action), ["retry", "retry"]);
      assertEquals(audit.items[0].actor, "alice");
    } finally {
      await q.close();
    }
  },

  "hold and release; cancel logs and sends no DSN; bounce owes the sender a DSN": async (
    store,
    db,
  ) => {
    const q = service(store, db);
    try {
      const m = fresh(["a@x.test", "b@y.test"]);
      await store.insertMessages([m]);
      assertEquals((await q.act(alice, m.id, "hold", "checking")).units, 2);
      assertEquals(await lease(store, Date.now()), []);
      const held = (await q.search(alice, { id: m.id })).items;
      assertEquals(held.map((u) => u.state), ["quarantined", "quarantined"]);
      assertEquals(held[0].hold_reason, "held by alice: checking");
      assertEquals((await q.act(alice, m.id, "release")).units, 2);
      assertEquals((await lease(store, Date.now())).length, 2);
      // Leased: cancel still ends it (its attempt's outcome is only logged).
      const c = fresh(["c@x.test"]);
      await store.insertMessages([c]);
      assertEquals((await q.act(alice, c.id, "cancel")).units, 1);
      const status = await store.messageStatus(c.id);
      assertEquals(status?.recipients[0].state, "failed");
      assertEquals(status?.recipients[0].last_reply, "cancelled by alice");
      assertEquals(status?.attempts.map((a) => a.outcome), ["cancelled"]);
      assertEquals(await store.claimDsns({ token: "claim:t:1", limit: 10 }), []);
      // Bounce now: the recipient fails through settle and its DSN is due (then sent).
      const d = fresh(["d@x.test"], { sender: "owner@example.test" });
      await store.insertMessages([d]);
      assertEquals((await q.act(alice, d.id, "bounce")).units, 1);
      const bounced = await store.messageStatus(d.id);
      assertEquals(bounced?.recipients[0].state, "failed");
      assertEquals(bounced?.recipients[0].last_code, 554);
      assert(bounced?.recipients[0].last_reply?.includes("bounced by the operator (alice)"));
      // The DSN was accepted as a new message to the sender.
      const dsn = (await q.search(alice, { recipient: "owner@example.test" })).items;
      assertEquals(dsn.length, 1);
      assertEquals(dsn[0].sender, "");
    } finally {
      await q.close();
    }
  },

  "a bulk job works through its selection in chunks and resumes from its cursor": async (
    store,
    db,
  ) => {
    const q = service(store, db);
    try {
      const n = JOB_CHUNK + 5;
      const messages = Array.from({ length: n }, (_, i) => fresh([`r${i}@bulk.test`]));
      for (let i = 0; i < n; i += 500) await store.insertMessages(messages.slice(i, i + 500));
      await store.insertMessages([fresh(["other@else.test"])]);
      const preview = await q.bulk(alice, {
        action: "hold",
        filter: { domain: "bulk.test" },
        dry_run: true,
      });
      assertEquals(preview, { total: n });
      const { job } = await q.bulk(alice, { action: "hold", filter: { domain: "bulk.test" } });
      assert(job);
      assertEquals(job.state, "running");
      const progress: number[] = [];
      const end = await q.runJob(alice, job.id, (j) => progress.push(j.done));
      assertEquals(progress, [JOB_CHUNK, n]);
      assertEquals([end.state, end.total, end.done, end.changed], ["done", n, n, n]);
      assertEquals(
        (await q.search(alice, { state: "quarantined" }, { limit: 1000 })).items.length,
        1000,
      );
      // Run again: a finished job does nothing more.
      assertEquals((await q.runJob(alice, job.id)).done, n);
      assertEquals((await q.job(viewer, job.id)).changed, n);
      await rejects(() => q.job(viewer, "job-none"), NotFoundError);

      // A job stopped after its first chunk (the process died) goes on from its cursor.
      const second = (await q.bulk(alice, { action: "release", filter: { domain: "bulk.test" } }))
        .job!;
      const ids = (await q.search(alice, { domain: "bulk.test" }, { limit: 1000 })).items;
      await store.advanceJob(second.id, {
        lastId: ids[JOB_CHUNK - 1].unit_id,
        done: JOB_CHUNK,
        changed: 0,
        at: Date.now(),
      });
      const resumed = await q.runJob(alice, second.id);
      assertEquals([resumed.state, resumed.done, resumed.changed], ["done", n, n - JOB_CHUNK]);
      // The first chunk was not done again: still held.
      const stillHeld = await q.search(alice, { domain: "bulk.test", state: "quarantined" }, {
        limit: 1000,
      });
      assertEquals(stillHeld.items.map((u) => u.unit_id), ids.map((u) => u.unit_id));
    } finally {
      await q.close();
    }
  },

  "pauses are stored, listed and removed, each audited": async (store, db) => {
    const q = service(store, db);
    try {
      const p = await q.addPause(alice, { domain: "Example.NET", reason: "complaints" });
      assertEquals([p.domain, p.description, p.in_force], [
        "example.net",
        "domain example.net",
        true,
      ]);
      const timed = await q.addPause(alice, {
        source_kind: "pool",
        source: "bulk",
        tag: "spring",
        until: Date.now() + 60_000,
      });
      assertEquals(timed.description, "pool bulk, tag spring");
      assertEquals((await q.listPauses(viewer)).map((x) => x.id).sort(), [p.id, timed.id].sort());
      await q.removePause(alice, p.id);
      await rejects(() => q.removePause(alice, p.id), NotFoundError);
      assertEquals((await q.listPauses(alice)).map((x) => x.id), [timed.id]);
      const audit = await listAudit(store, { kind: "pause", object_id: p.id });
      assertEquals(audit.items.map((e) => e.action), ["delete", "create"]);
      void T0;
    } finally {
      await q.close();
    }
  },
};
