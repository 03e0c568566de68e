/**
 * The queue counts (core/store/views.ts: open states live, terminal ones from the totals of
 * core/store/recipient_totals.ts) against a full GROUP BY of every recipient after a mix of
 * what moves recipients: settles of every outcome, operator cancel and bounce, the quarantine's
 * cancel, asynchronous bounces, and the broker path (unconfirmed, forgotten, swept, settled by
 * copy number). Run on SQLite (tests/queue_counts_test.ts) and on PostgreSQL and MariaDB
 * (tests/queue_counts.pg.mariadb_test.ts).
 */
import { assertEquals, assertRejects } from "./assert.ts";
import type { TestDatabase } from "./databases.ts";
import { lease, message, outcome, T0 } from "./store_contract.ts";
import type { Kysely } from "kysely";
import { migration0024 } from "../../migrations/0024_recipient_totals.ts";
import type { SqlStore } from "../../core/store/mod.ts";
import type { QueueCounts } from "../../core/store/views.ts";
import type { UnitOutcome } from "../../core/contracts/mod.ts";
import { QueueService } from "../../core/manage/queue_service.ts";
import { type Actor, ForbiddenError } from "../../core/manage/types.ts";

const alice: Actor = { name: "alice", role: "operator", channel: "cli" };

/** What the counts were before 0024: every recipient grouped, less the unconfirmed ones. */
async function slowCounts(store: SqlStore, now: number): Promise<QueueCounts> {
  const all = await store.db.selectFrom("recipients")
    .select((eb) => ["state", eb.fn.countAll<number>().as("n")]).groupBy("state").execute();
  const unconfirmed = await store.db.selectFrom("messages")
    .innerJoin("recipients", "recipients.message_id", "messages.id")
    .select((eb) => ["recipients.state as state", eb.fn.countAll<number>().as("n")])
    .where("messages.unconfirmed_since", "is not", null)
    .groupBy("recipients.state").execute();
  const inFlight = await store.db.selectFrom("queue")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("state", "=", "queued").where("lease_owner", "is not", null)
    .where("due_at", ">", now).executeTakeFirst();
  const result: QueueCounts = {
    queued: 0,
    deferred: 0,
    delivered: 0,
    failed: 0,
    suppressed: 0,
    bounced: 0,
    in_flight_units: Number(inFlight?.n ?? 0),
  };
  for (const row of all) result[row.state] = Number(row.n);
  for (const row of unconfirmed) result[row.state] -= Number(row.n);
  return result;
}

async function same(store: SqlStore, now: number, step: string): Promise<QueueCounts> {
  const fast = await store.counts(now);
  assertEquals(fast, await slowCounts(store, now), `after ${step}`);
  return fast;
}

/** Each recipient's result by its local part: d… delivered, f… failed, s… suppressed, else deferred. */
function resultsOf(recipients: string[]): UnitOutcome["results"] {
  return recipients.map((address) => {
    const outcome = address.startsWith("d")
      ? "delivered" as const
      : address.startsWith("f")
      ? "failed" as const
      : address.startsWith("s")
      ? "suppressed" as const
      : "deferred" as const;
    const code = outcome === "delivered" ? 250 : outcome === "deferred" ? 451 : 550;
    return { address, outcome, code, reply: `${code} test` };
  });
}

/** The counts match a full GROUP BY after every kind of move. */
export async function countsMatchGroupBy(store: SqlStore, db: TestDatabase): Promise<void> {
  let now = T0 + 1_000;
  const messages = Array.from(
    { length: 12 },
    (_, i) =>
      message([`d${i}@a.test`, `f${i}@a.test`, `s${i}@b.test`, `q${i}@b.test`, `d${i}x@c.test`]),
  );
  await store.insertMessages(messages);
  await same(store, now, "insert");

  // Settle every outcome kind, some units left leased (in flight).
  const leased = await lease(store, now, 30);
  const settleNow = leased.slice(0, 24);
  const lost = await store.settle(settleNow.map((u) => {
    const results = resultsOf(u.recipients);
    const open = results.some((r) => r.outcome === "deferred");
    return outcome(
      u,
      results,
      open ? { kind: "deferred", retryAt: now + 60_000, reason: "remote" } : { kind: "final" },
    );
  }));
  assertEquals(lost, 0);
  const afterSettle = await same(store, now, "settle");
  assertEquals(afterSettle.in_flight_units, leased.length - settleNow.length);
  assertEquals(afterSettle.delivered > 0 && afterSettle.failed > 0, true);
  assertEquals(afterSettle.suppressed > 0 && afterSettle.deferred > 0, true);

  // A settle that lost its lease changes nothing.
  assertEquals(await store.settle([outcome({ ...settleNow[0], leaseToken: "stale" }, [])]), 1);
  await same(store, now, "a lost lease");

  // Asynchronous bounces of delivered recipients (again: no change the second time).
  const bouncedOne = await store.bouncedMessage(messages[0].id);
  const delivered = bouncedOne!.recipients.filter((r) => r.state === "delivered").map((r) => r.id);
  const all = bouncedOne!.recipients.map((r) => r.id);
  const update = { reply: "5.1.1 gone", category: "bad-mailbox", at: now };
  assertEquals(await store.markRecipientsBounced(all, update), delivered.length);
  assertEquals(await store.markRecipientsBounced(all, update), 0);
  await same(store, now, "async bounces");

  // Operator actions through the queue service: cancel, bounce, hold, retry.
  const q = new QueueService(store, db.config(), () => {});
  try {
    await q.act(alice, messages[1].id, "cancel");
    await same(store, now, "cancel");
    await q.act(alice, messages[2].id, "hold");
    await q.act(alice, messages[2].id, "retry");
    await same(store, now, "hold and retry");
    now = Date.now();
    await q.act(alice, messages[3].id, "bounce");
    await same(store, now, "bounce");
  } finally {
    await q.close();
  }

  // The quarantine's cancel.
  const unit = (await store.quarantine.units(messages[4].id)).find((u) => u.state === "queued");
  if (unit) await store.quarantine.quarantineNow(unit.id, "test", now);
  await store.quarantine.cancel(messages[4].id, now);
  await same(store, now, "quarantine cancel");

  // The broker path: unconfirmed rows are not counted; forgotten and swept ones go.
  const pending = Array.from({ length: 4 }, (_, i) => message([`d${i}@u.test`, `q${i}@u.test`]));
  await store.insertMessages(pending, { unconfirmedSince: now - 600_000 });
  await same(store, now, "unconfirmed insert");
  await store.forgetMessages([pending[0].id]);
  await same(store, now, "forget");
  await store.confirmMessages([pending[1].id]);
  const settledUnconfirmed = (await lease(store, now + 120_000, 100))
    .filter((u) => u.messageId === pending[2].id);
  await store.settle(
    settledUnconfirmed.map((u) => outcome(u, resultsOf(u.recipients))),
    { claim: () => 0 },
  );
  await same(store, now, "settle of an unconfirmed message");
  // Rows the broker path deletes after one of their units was settled by lease (not expected
  // there, but the totals must follow): forgotten, and swept (copy number never moved on).
  const settledThenGone = [message(["d1@g.test"]), message(["d2@h.test"])];
  await store.insertMessages(settledThenGone, { unconfirmedSince: now - 600_000 });
  const gone = (await lease(store, now + 180_000, 100))
    .filter((u) => settledThenGone.some((m) => m.id === u.messageId));
  assertEquals(gone.length, 2);
  await store.settle(gone.map((u) => outcome(u, resultsOf(u.recipients))));
  await same(store, now, "settle of unconfirmed messages by lease");
  await store.forgetMessages([settledThenGone[0].id]);
  await same(store, now, "forget of a settled message");
  const swept = await store.sweepUnconfirmed(now, 100);
  assertEquals(swept.removed >= 1, true, "the settled-by-lease message is swept");
  const last = await same(store, now, "sweep");
  assertEquals(last.queued + last.deferred > 0, true);

  // The migration seeds the totals from the rows already there.
  await store.db.schema.dropTable("recipient_totals").execute();
  await migration0024.up(store.db as unknown as Kysely<unknown>, store.dialect);
  assertEquals(await store.counts(now), last, "after seeding");

  // Totals a writer without the bookkeeping left wrong: `queue recount` (admins) repairs them.
  await store.db.updateTable("recipient_totals").set({ n: 7 })
    .where("state", "=", "delivered").where("shard", "=", 3).execute();
  assertEquals((await store.counts(now)).delivered, last.delivered + 7, "a drifted total");
  const service = new QueueService(store, db.config(), () => {});
  try {
    const refused = await assertRejects(() => service.recountTotals(alice));
    assertEquals(refused instanceof ForbiddenError, true, refused.message);
    const admin: Actor = { name: "root", role: "admin", channel: "cli" };
    const recount = await service.recountTotals(admin);
    const delivered = recount.find((t) => t.state === "delivered")!;
    assertEquals(delivered, {
      state: "delivered",
      before: delivered.after + 7,
      after: delivered.after,
    });
    assertEquals(await store.counts(now), last, "after the recount");
    const audit = await store.listAudit({ kind: "queue", limit: 5 });
    assertEquals(audit[0]?.action, "recount");
  } finally {
    await service.close();
  }
}
