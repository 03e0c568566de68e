/**
 * Units inserted leased at accept (`queue.lease_at_accept`) wait for their lease like leased
 * units, on every database: not leased again before it ends, counted in flight, released at a
 * restart. Run by tests/accept_lease_test.ts (SQLite) and tests/accept_lease.pg.mariadb_test.ts.
 */
import { assert, assertEquals } from "./assert.ts";
import { message } from "./store_contract.ts";
import type { SqlStore } from "../../core/store/mod.ts";

export async function leasedAtAcceptWaitForTheirLease(store: SqlStore): Promise<void> {
  const now = Date.now();
  const a = message(["a@one.test", "b@two.test"]);
  const b = message(["c@one.test"]);
  const lease = {
    owner: "node-1",
    token: "tok-1",
    now,
    until: now + 60_000,
    unitIds: new Set([`${a.id}.0`, `${a.id}.1`]),
  };
  await store.insertMessages([a, b], { lease });
  assertEquals((await store.counts(now)).in_flight_units, 2);
  const leased = await store.leaseDue({
    owner: "node-1",
    token: "tok-2",
    now,
    leaseMs: 60_000,
    limit: 10,
  });
  assertEquals(leased.map((u) => u.unitId), [`${b.id}.0`]); // only the unleased one
  // After the lease time they are due again, their attempt counted once.
  const later = await store.leaseDue({
    owner: "node-1",
    token: "tok-3",
    now: now + 60_001,
    leaseMs: 60_000,
    limit: 10,
  });
  assertEquals(later.map((u) => u.attempts), [2, 2, 2]); // b's lease (tok-2) ended too
  // A restart of the node makes its leases due at once.
  await store.insertMessages([message(["d@three.test"], { id: "m-restart" })], {
    lease: { ...lease, token: "tok-4", unitIds: new Set(["m-restart.0"]) },
  });
  assert(await store.releaseLeases("node-1", now) >= 1);
  const again = await store.leaseDue({
    owner: "node-1",
    token: "tok-5",
    now,
    leaseMs: 60_000,
    limit: 10,
  });
  assert(again.some((u) => u.unitId === "m-restart.0"), "released at restart");
}

/**
 * A crashed accepting thread's run (lease tokens `run.0.0.*`): its units never reported return
 * due now with their attempt taken back; those the scheduler adopted (kept) and other runs'
 * stay leased.
 */
export async function crashedRunLeasesReturn(store: SqlStore): Promise<void> {
  const now = Date.now();
  const insertLeased = async (token: string) => {
    const m = message(["a@one.test"]);
    const unitIds = new Set([`${m.id}.0`]);
    await store.insertMessages([m], {
      lease: { owner: "node-1", token, now, until: now + 60_000, unitIds },
    });
    return `${m.id}.0`;
  };
  const adopted = await insertLeased("run.0.0.adopted");
  const lost = await insertLeased("run.0.0.lost");
  const nextRun = await insertLeased("run.0.1.live");
  const otherThread = await insertLeased("run.1.0.live");
  assertEquals(await store.returnLeasePrefix("node-1", "run.0.0.", ["run.0.0.adopted"], now), 1);
  const rows = await store.db.selectFrom("queue").select(["id", "lease_token", "attempts"])
    .where("id", "in", [adopted, lost, nextRun, otherThread]).execute();
  const byId = new Map(rows.map((r) => [r.id, [r.lease_token, Number(r.attempts)]]));
  assertEquals(byId.get(lost), [null, 0]);
  assertEquals(byId.get(adopted), ["run.0.0.adopted", 1]);
  assertEquals(byId.get(nextRun), ["run.0.1.live", 1]);
  assertEquals(byId.get(otherThread), ["run.1.0.live", 1]);
  const due = await store.leaseDue({ owner: "node-1", token: "t", now, leaseMs: 1, limit: 10 });
  assertEquals(due.map((u) => u.unitId), [lost]);
}
