/**
 * Leases a database connection cut leaves behind (issue 18): a grant stored whose answer was
 * lost, and a give-back that failed. The embedded queue returns those units on its next lease
 * once the connection is back, instead of leaving them until `queue.lease_time` (10 min) ends.
 */
import { assertEquals } from "./helpers/assert.ts";
import { message, withStore } from "./helpers/store_contract.ts";
import { EmbeddedQueue } from "../core/queue/embedded.ts";
import { LostLeases } from "../core/queue/lost_leases.ts";
import type { SqlStore } from "../core/store/mod.ts";

Deno.test({
  name: "a lease committed but never seen is given back on the next lease (sqlite3)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withStore("sqlite3", async (store, db) => {
      const config = db.config(); // default lease_time: 10 minutes
      await store.insertMessages([message(["a@one.test"]), message(["b@two.test"])]);
      let cut = true;
      // The store commits the lease, then the answer is lost (a connection cut).
      const flaky = new Proxy(store, {
        get(target, key, receiver) {
          if (key !== "leaseDue") return Reflect.get(target, key, receiver);
          return async (request: Parameters<SqlStore["leaseDue"]>[0]) => {
            const units = await target.leaseDue(request);
            if (cut) throw new Error(`connection lost after leasing ${units.length}`);
            return units;
          };
        },
      });
      const lines: string[] = [];
      const queue = new EmbeddedQueue(config, flaky, (l) => lines.push(l));
      let failed = false;
      await queue.lease(10).catch(() => failed = true);
      assertEquals(failed, true);
      assertEquals(await store.nextDueAt().then((d) => d! > Date.now() + 60_000), true);
      cut = false;
      const units = await queue.lease(10); // the connection is back
      assertEquals(units.map((u) => u.recipients[0]).sort(), ["a@one.test", "b@two.test"]);
      assertEquals(units.map((u) => u.attempts), [1, 1]); // the lost lease's attempt taken back
      assertEquals(lines, ["gave back 2 units leased while the database connection was cut"]);
    }),
});

Deno.test({
  name: "a give-back that failed is retried by the next lease (sqlite3)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withStore("sqlite3", async (store, db) => {
      await store.insertMessages([message(["a@one.test"])]);
      let down = false;
      const flaky = new Proxy(store, {
        get(target, key, receiver) {
          if (key === "returnLeases" && down) {
            return () => Promise.reject(new Error("connection lost"));
          }
          return Reflect.get(target, key, receiver);
        },
      });
      const queue = new EmbeddedQueue(db.config(), flaky);
      const [unit] = await queue.lease(10);
      down = true;
      await queue.giveBack([unit]); // the body could not be read: handed back, but the DB is away
      down = false;
      const again = await queue.lease(10);
      assertEquals(again.map((u) => u.unitId), [unit.unitId]);
    }),
});

Deno.test("lost leases: kept while returning fails, retired after the grace or the lease", async () => {
  const lost = new LostLeases({ leaseMs: () => 60_000, graceMs: 5_000 });
  const calls: string[][] = [];
  let fail = true;
  const store = {
    returnLeaseTokens: (tokens: string[]) => {
      calls.push(tokens);
      return fail ? Promise.reject(new Error("still down")) : Promise.resolve(0);
    },
    returnLeases: () => Promise.resolve(0),
  };
  lost.addLease("t1", 0);
  assertEquals(await lost.returnAll(store, 1_000), 0);
  assertEquals(lost.size, 1); // the give-back failed: still watched
  fail = false;
  await lost.returnAll(store, 2_000);
  assertEquals(lost.size, 1); // inside the grace: a commit could still land
  await lost.returnAll(store, 6_000);
  assertEquals(lost.size, 0);
  lost.addLease("t2", 0);
  fail = true;
  await lost.returnAll(store, 60_000); // its lease ended: due again by itself
  assertEquals(lost.size, 0);
  assertEquals(calls, [["t1"], ["t1"], ["t1"]]);
});
