/**
 * Leases at accept (`queue.lease_at_accept`, core/queue/lease_credits.ts): the scheduler lends
 * room as credits only while nothing due waits and no pause is in force; an acceptor holding
 * credits inserts that many units already leased, as a lease would leave them (not leased again
 * before the lease ends, counted in flight, back at the next start), and reports them; the
 * scheduler tracks and dispatches them, and gives them back when it is not running.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { message, withStore } from "./helpers/store_contract.ts";
import { waitUntil } from "./helpers/wait.ts";
import {
  crashedRunLeasesReturn,
  leasedAtAcceptWaitForTheirLease,
} from "./helpers/accept_lease_case.ts";
import { parseConfig } from "../core/config/mod.ts";
import type { LeasedUnit } from "../core/contracts/mod.ts";
import { AcceptLeaser, Acceptor, type CommittedUnits } from "../core/accept/mod.ts";
import { EmbeddedQueue } from "../core/queue/embedded.ts";
import { LeaseCredits, leaseCreditsMemory, LeaseCreditTaker } from "../core/queue/lease_credits.ts";
import type { EnqueueOptions, Queue } from "../core/queue/mod.ts";
import { Scheduler } from "../core/schedule/mod.ts";
import type { PauseGate } from "../core/schedule/pauses.ts";
import { fakeQueue, leasedUnit } from "./helpers/fake_queue.ts";

const config = parseConfig({ queue: { lease_time: "60s", poll_interval: "1h" } });

Deno.test("lease credits: taken up to the offer, in transit until they arrive, forgotten with a thread", () => {
  const credits = new LeaseCredits(leaseCreditsMemory(2));
  const first = new LeaseCreditTaker(credits.memory, 0);
  const second = new LeaseCreditTaker(credits.memory, 1);
  assertEquals(first.take(5), 0);
  credits.grant(8);
  assertEquals(first.take(5), 5);
  assertEquals(second.take(5), 3);
  assertEquals([credits.offered, credits.inTransit], [0, 8]);
  credits.grant(8); // nothing more: all the room is in transit
  assertEquals(credits.offered, 0);
  credits.arrived(0, 5);
  second.cancel(3); // that commit failed
  assertEquals(credits.inTransit, 0);
  credits.grant(4);
  assertEquals(second.take(1), 1);
  credits.forget(1);
  assertEquals([credits.offered, credits.inTransit], [3, 0]);
  credits.arrived(1, 1); // a late report of a forgotten thread never goes below zero
  assertEquals(credits.inTransit, 0);
  credits.revoke();
  assertEquals(first.take(2), 0);
});

Deno.test({
  name: "units inserted leased at accept wait for their lease like leased units (sqlite3)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => withStore("sqlite3", leasedAtAcceptWaitForTheirLease),
});

Deno.test({
  name: "a crashed accepting run's unreported leases return, adopted ones stay (sqlite3)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => withStore("sqlite3", crashedRunLeasesReturn),
});

Deno.test({
  name:
    "an acceptor with credits commits units leased and reports them; a failed commit gives the credits up",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withStore("sqlite3", async (store, db) => {
      const nodeConfig = { ...db.config(), nodeId: "node-1" };
      const credits = new LeaseCredits(leaseCreditsMemory(1));
      const leaser = new AcceptLeaser(new LeaseCreditTaker(credits.memory, 0), nodeConfig);
      const queue = new EmbeddedQueue(nodeConfig, store);
      const reports: CommittedUnits[] = [];
      let failing = false;
      const flaky = {
        enqueue: (messages: Parameters<Queue["enqueue"]>[0], options?: EnqueueOptions) =>
          failing ? Promise.reject(new Error("disk gone")) : queue.enqueue(messages, options),
      };
      const acceptor = new Acceptor(flaky, {
        leaser,
        onCommitted: (_count, units) => reports.push(units),
      });
      // No credits: inserted unleased, as without the option.
      await acceptor.submit(message(["a@one.test"], { meta: { tag: "x" } }));
      assertEquals(reports.at(-1), { leased: [], allLeased: false });
      credits.grant(2);
      const id = await acceptor.submit(message(["b@one.test", "c@two.test", "d@three.test"]));
      const report = reports.at(-1)!;
      assertEquals(report.allLeased, false); // three units, two credits
      assertEquals(report.leased.map((u) => [u.unitId, u.attempts]), [[`${id}.0`, 1], [
        `${id}.1`,
        1,
      ]]);
      assertEquals((await store.counts(Date.now())).in_flight_units, 2);
      credits.arrived(0, 2);
      credits.grant(5);
      failing = true;
      await acceptor.submit(message(["e@one.test"])).catch(() => {});
      assertEquals(credits.inTransit, 0); // the failed batch's credit is not in transit
      failing = false;
      const whole = await acceptor.submit(message(["f@one.test"], { meta: { pool: "p" } }));
      const last = reports.at(-1)!;
      assertEquals(last.allLeased, true);
      assertEquals(last.leased[0].meta, { pool: "p" });
      // As a lease of that unit reads it back.
      const stored = await store.db.selectFrom("queue").selectAll().where("id", "=", `${whole}.0`)
        .executeTakeFirstOrThrow();
      assertEquals(stored.lease_owner, "node-1");
      assertEquals(stored.lease_token, last.leased[0].leaseToken);
    }),
});

Deno.test("scheduler: lends its room only once nothing due waits, dispatches what it lent for, takes it back", async () => {
  const due = Array.from({ length: 150 }, (_, i) => leasedUnit(i)); // more than one batch
  const { queue, calls } = fakeQueue(due);
  const config = parseConfig({
    queue: { lease_time: "60s", poll_interval: "1h", batch_size: 100 },
  });
  const dispatched: string[] = [];
  // deno-lint-ignore prefer-const
  let scheduler: Scheduler;
  scheduler = new Scheduler(queue, config, (units) => {
    scheduler.handOver(
      units,
      "delivery-0",
      (mine) => dispatched.push(...mine.map((u) => u.unitId)),
    );
  }, () => {});
  const credits = new LeaseCredits(leaseCreditsMemory(1));
  scheduler.useAcceptLeases(credits);
  const taker = new LeaseCreditTaker(credits.memory, 0);
  const capacity = config.delivery.concurrency * config.delivery.workers;
  await scheduler.start();
  await waitUntil(() => dispatched.length === 150, { message: "the backlog dispatched" });
  // The backlog went out first; only the pass that found the queue empty lends.
  await waitUntil(() => credits.offered > 0, { message: "credits offered" });
  assertEquals(credits.offered, capacity - 150);
  assertEquals(taker.take(2), 2);
  scheduler.adopt([leasedUnit(900, "acc"), leasedUnit(901, "acc")], 0);
  assertEquals(dispatched.slice(-2), ["m900.0", "m901.0"]);
  assertEquals(scheduler.inFlight, 152);
  assertEquals(credits.inTransit, 0);
  assertEquals(credits.offered, capacity - 152);
  // A settle with nothing due lends the room again, without a lease pass.
  const leases = calls.leases;
  scheduler.settled(["t0", "t1"], ["m0.0", "m1.0"]);
  assertEquals(credits.offered, capacity - 150);
  assertEquals(calls.leases, leases);
  // Something may be due: no credits until a pass has looked.
  due.push(leasedUnit(950));
  scheduler.wake();
  assertEquals(credits.offered, 0);
  await waitUntil(() => dispatched.includes("m950.0"), { message: "the woken unit leased" });
  await waitUntil(() => credits.offered > 0, { message: "lending again" });
  await scheduler.stop();
  assertEquals(credits.offered, 0);
  scheduler.adopt([leasedUnit(990, "late")], 0); // reported after stop: back to the queue
  assertEquals(calls.givenBack, ["m990.0"]);
  assert(!dispatched.includes("m990.0"));
});

Deno.test("scheduler: lends nothing while a pause is in force", async () => {
  const { queue } = fakeQueue([]);
  const scheduler = new Scheduler(queue, config, () => {}, () => {});
  const credits = new LeaseCredits(leaseCreditsMemory(1));
  scheduler.useAcceptLeases(credits);
  const pauses = [{ id: "p-1" }];
  scheduler.usePauses(
    { pauses, split: (units: LeasedUnit[]) => ({ pass: units, held: [] }) } as unknown as PauseGate,
  );
  await scheduler.start();
  await waitUntil(() => scheduler.inFlight === 0 && !credits.offered, { message: "first pass" });
  scheduler.settled([], []);
  assertEquals(credits.offered, 0);
  pauses.pop();
  scheduler.wake();
  await waitUntil(() => credits.offered > 0, { message: "lending once the pause is gone" });
  await scheduler.stop();
});

Deno.test("scheduler: while lending, a settle's due time brings the next pass forward", async () => {
  const due: LeasedUnit[] = [];
  const { queue, calls } = fakeQueue(due);
  const dispatched: string[] = [];
  const scheduler = new Scheduler(queue, config, (units) => {
    dispatched.push(...units.map((u) => u.unitId));
  }, () => {});
  const credits = new LeaseCredits(leaseCreditsMemory(1));
  scheduler.useAcceptLeases(credits);
  await scheduler.start();
  await waitUntil(() => credits.offered > 0, { message: "lending" });
  const leases = calls.leases;
  // A deferred unit comes due soon; the poll interval (1 h) would not find it in this test.
  due.push(leasedUnit(7));
  scheduler.settled(["t6"], ["m6.0"], Date.now() + 50);
  assertEquals(calls.leases, leases); // no pass at once
  await waitUntil(() => dispatched.includes("m7.0"), { message: "leased when due" });
  await scheduler.stop();
});

Deno.test("scheduler: a crashed accepting run's leases go back except those it adopted; its late reports are ignored", async () => {
  const { queue } = fakeQueue([]);
  const released: { prefix: string; keep: string[] }[] = [];
  queue.releaseAcceptLeases = (prefix, keep) => {
    released.push({ prefix, keep });
    return Promise.resolve(1);
  };
  const dispatched: string[] = [];
  const lines: string[] = [];
  const scheduler = new Scheduler(queue, config, (units) => {
    dispatched.push(...units.map((u) => u.unitId));
  }, (line) => lines.push(line));
  scheduler.useAcceptLeases(new LeaseCredits(leaseCreditsMemory(1)));
  await scheduler.start();
  scheduler.adopt([leasedUnit(1, "run.0.0.a"), leasedUnit(2, "run.0.1.b")], 0);
  await scheduler.releaseAcceptLeases("run.0.0.", "smtp-0 crashed");
  assertEquals(released, [{ prefix: "run.0.0.", keep: ["run.0.0.a"] }]);
  assertEquals(
    lines.at(-1),
    "schedule: returned 1 units leased at accept to the queue: smtp-0 crashed",
  );
  scheduler.adopt([leasedUnit(3, "run.0.0.late"), leasedUnit(4, "run.0.1.c")], 0); // after the crash
  assertEquals(dispatched, ["m1.0", "m2.0", "m4.0"]);
  assertEquals(scheduler.inFlight, 3);
  await scheduler.stop();
});

Deno.test("scheduler: while lending, units coming due are leased with credits taken back and the rest stays on offer; a backlog revokes them", async () => {
  const due: LeasedUnit[] = [];
  const { queue } = fakeQueue(due);
  const offeredAtLease: number[] = [];
  const lease = queue.lease;
  queue.lease = (limit) => {
    offeredAtLease.push(credits.offered);
    return lease(limit);
  };
  const dispatched: string[] = [];
  const scheduler = new Scheduler(queue, config, (units) => {
    dispatched.push(...units.map((u) => u.unitId));
  }, () => {});
  const credits = new LeaseCredits(leaseCreditsMemory(1));
  scheduler.useAcceptLeases(credits);
  const capacity = config.delivery.concurrency * config.delivery.workers;
  await scheduler.start();
  await waitUntil(() => credits.offered === capacity, { message: "lending" });
  // A retry's time: a quarter of the room is taken back for it, the rest stays on offer.
  due.push(leasedUnit(1), leasedUnit(2));
  scheduler.wakeForDue();
  await waitUntil(() => dispatched.length === 2, { message: "the due units leased" });
  assertEquals(offeredAtLease.at(-1), capacity - capacity / 4);
  await waitUntil(() => credits.offered === capacity - 2, { message: "lending the rest" });
  // More due than that quarter (a backlog): it goes first, with no credits on offer meanwhile.
  due.push(...Array.from({ length: 120 }, (_, i) => leasedUnit(10 + i)));
  const before = offeredAtLease.length;
  scheduler.wakeForDue();
  await waitUntil(() => dispatched.length === 122, { message: "the backlog leased" });
  assertEquals(offeredAtLease.slice(before + 1).every((offered) => offered === 0), true);
  await waitUntil(() => credits.offered === capacity - 122, { message: "lending again" });
  await scheduler.stop();
});
