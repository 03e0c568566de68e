/**
 * The hold watchdog (core/schedule/watchdog.ts) with a fake clock, and the scheduler's
 * bookkeeping around it with a fake queue: nothing is taken before start, a dispatch that
 * cannot hand units over returns them, units held past the bound are reported and returned,
 * and at shutdown what is left goes back (docs/watchdog.md).
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { parseConfig } from "../core/config/mod.ts";
import { Scheduler, Watchdog } from "../core/schedule/mod.ts";
import { waitUntil } from "./helpers/wait.ts";
import { fakeQueue, leasedUnit } from "./helpers/fake_queue.ts";

Deno.test("watchdog: tracks units by place and reports those held past the bound", () => {
  let now = 1_000_000;
  const watchdog = new Watchdog({ boundMs: 60_000, now: () => now });
  watchdog.take([leasedUnit(1), leasedUnit(2)], "dispatch");
  now += 30_000;
  watchdog.take([leasedUnit(3)], "dispatch");
  assertEquals(watchdog.move([leasedUnit(1), leasedUnit(3)], "delivery-0").length, 2);
  assertEquals(watchdog.whereIs(leasedUnit(1)), "delivery-0");
  assertEquals(watchdog.whereIs(leasedUnit(2)), "dispatch");
  assertEquals(watchdog.size, 3);
  assertEquals(watchdog.oldestMs(), 30_000);

  // At the bound nothing is overdue yet; one millisecond later the first two are.
  now += 30_000;
  assertEquals(watchdog.overdue(), []);
  now += 1;
  const { units, line } = watchdog.collectOverdue();
  assertEquals(units.map((u) => u.unitId), ["m1.0", "m2.0"]);
  assertMatch(line!, /^watchdog: 2 units held longer than 60000 ms/);
  assertMatch(line!, /m1\.0 \(delivery-0, 60 s\), m2\.0 \(dispatch, 60 s\)/);
  assertEquals(watchdog.size, 1);
  assertEquals(watchdog.reported, 2);
  // A late settle of a returned unit changes nothing; the held one is forgotten once.
  assertEquals(watchdog.finish(["t1"], ["m1.0"]), 0);
  assertEquals(watchdog.finish(["t3"], ["m3.0"]), 1);
  assertEquals(watchdog.size, 0);
  assertEquals(watchdog.collectOverdue().line, null);
});

Deno.test("watchdog: one lease token for a batch (embedded queue) is matched per unit", () => {
  const watchdog = new Watchdog({ boundMs: 1_000, now: () => 0 });
  watchdog.take(
    [leasedUnit(1, "batch"), leasedUnit(2, "batch"), leasedUnit(3, "batch")],
    "dispatch",
  );
  assertEquals(watchdog.finish(["batch"], ["m2.0"]), 1);
  assertEquals(watchdog.all().map((u) => u.unitId), ["m1.0", "m3.0"]);
  // Tokens only (no unit ids): one unit per token.
  assertEquals(watchdog.finish(["batch"]), 1);
  assertEquals(watchdog.size, 1);
});

Deno.test("watchdog: a report names at most 20 units and counts the rest", () => {
  let now = 0;
  const watchdog = new Watchdog({ boundMs: 10, now: () => now });
  watchdog.take(Array.from({ length: 25 }, (_, i) => leasedUnit(i)), "delivery-1");
  now = 11;
  const { line } = watchdog.collectOverdue();
  assertMatch(line!, /^watchdog: 25 units held/);
  assertMatch(line!, / and 5 more$/);
});

const config = parseConfig({ queue: { lease_time: "60s", poll_interval: "1h" } });

Deno.test("scheduler: takes nothing before start; a failed hand-over returns the units", async () => {
  const { queue, calls, push } = fakeQueue([leasedUnit(1), leasedUnit(2), leasedUnit(3)]);
  const logs: string[] = [];
  const posted: string[] = [];
  // deno-lint-ignore prefer-const
  let scheduler: Scheduler;
  scheduler = new Scheduler(queue, config, (units) => {
    // Unit 2 has no worker (as before the workers started in issue 12): its post throws.
    for (const u of units) {
      scheduler.handOver([u], "delivery-0", (mine) => {
        if (u.unitId === "m2.0") throw new Error("there is no delivery worker 0");
        posted.push(...mine.map((m) => m.unitId));
      });
    }
  }, (line) => logs.push(line));
  push();
  scheduler.wake();
  assertEquals(calls.taking, 0);
  assertEquals(scheduler.inFlight, 0);
  await scheduler.start();
  assertEquals(calls.taking, 1);
  await waitUntil(() => posted.length === 2, { message: "two units posted" });
  assertEquals(posted, ["m1.0", "m3.0"]);
  assertEquals(calls.givenBack, ["m2.0"]);
  assertEquals(scheduler.inFlight, 2);
  assertMatch(logs.join("\n"), /returned 1 units to the queue: cannot hand them to delivery-0/);

  scheduler.settled(["t1", "t3"], ["m1.0", "m3.0"]);
  assertEquals(scheduler.inFlight, 0);
  await scheduler.stop();
  assertEquals(calls.stopped, 1);
});

Deno.test("scheduler: a dispatch that throws keeps nothing", async () => {
  const { queue, calls } = fakeQueue([leasedUnit(1), leasedUnit(2)]);
  const scheduler = new Scheduler(queue, config, () => {
    throw new TypeError("Cannot read properties of undefined (reading 'post')");
  }, () => {});
  await scheduler.start();
  await waitUntil(() => calls.givenBack.length === 2, { message: "both units returned" });
  assertEquals(scheduler.inFlight, 0);
  await scheduler.stop();
});

Deno.test("scheduler: the watchdog returns units held past lease_time; shutdown returns the rest", async () => {
  const due = [leasedUnit(1), leasedUnit(2)];
  const { queue, calls } = fakeQueue(due);
  const logs: string[] = [];
  // deno-lint-ignore prefer-const
  let scheduler: Scheduler;
  scheduler = new Scheduler(
    queue,
    config,
    (units) => scheduler.handOver(units, "delivery-0", () => {}),
    (line) => logs.push(line),
  );
  await scheduler.start();
  await waitUntil(() => scheduler.inFlight === 2, { message: "two units in flight" });
  const takenAt = Date.now();
  scheduler.checkHeld(takenAt + 1_000);
  assertEquals(calls.givenBack, []);
  scheduler.checkHeld(takenAt + 61_000);
  assertEquals(calls.givenBack, ["m1.0", "m2.0"]);
  assertEquals(scheduler.inFlight, 0);
  assert(logs.some((l) => /^watchdog: 2 units held longer than 60000 ms/.test(l)), logs.join());
  assertEquals(calls.waitingBefore.at(-1), takenAt + 1_000);
  assertEquals(scheduler.watchdog.reported, 2);

  // One more unit at a worker when the node stops: it goes back, not left to expire.
  due.push(leasedUnit(3));
  scheduler.wake();
  await waitUntil(() => scheduler.inFlight === 1, { message: "a third unit in flight" });
  await scheduler.stop();
  assertEquals(calls.stopped, 1);
  await scheduler.returnAll();
  assertEquals(calls.givenBack, ["m1.0", "m2.0", "m3.0"]);
  assertEquals(scheduler.inFlight, 0);
});
