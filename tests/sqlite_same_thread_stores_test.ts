/**
 * Two stores on one SQLite file in one thread (the main thread has the scheduler's "deliver"
 * store and the REST API's "accept" path): a write of one while the other's transaction is
 * between two awaits must queue behind it, not wait on SQLite's lock inside the synchronous
 * call — which blocked the thread the transaction needed, for the whole busy timeout, then
 * failed with "database is locked" (the soak's minutes of zero throughput).
 */
import { sql } from "kysely";
import { assertEquals } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { parseConfig } from "../core/config/mod.ts";
import { openStore } from "../core/store/mod.ts";
import type { Suppression } from "../core/store/mod.ts";

function suppression(address: string): Suppression {
  return {
    address,
    category: "bad-mailbox",
    code: 550,
    reason: "550 5.1.1 no such user",
    messageId: "test",
    createdAt: Date.now(),
    expiresAt: null,
  };
}

/** Resolves in a later task of the event loop (what an await on I/O does mid-transaction). */
function nextTask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

Deno.test("a store's write waits its turn behind another same-thread store's open transaction", async () => {
  await using dir = tempDir("fastmta-same-thread-");
  const config = parseConfig({ data_dir: dir.path });
  const deliver = await openStore(config, "deliver");
  await deliver.migrate();
  const accept = await openStore(config, "accept");
  try {
    let other: Promise<void> | null = null;
    await accept.db.transaction().execute(async (trx) => {
      await trx.insertInto("suppression_entries").values({
        address: "first@example.test",
        scope: "",
        category: "bad-mailbox",
        source: "bounce",
        code: 550,
        reason: "first",
        message_id: "test",
        created_at: Date.now(),
        expires_at: null,
        created_by: null,
      }).execute();
      // The scheduler's side writes while the API's transaction is open, then the API's
      // transaction goes on in a later task.
      other = deliver.addSuppressions([suppression("second@example.test")]);
      await nextTask();
    });
    await other; // rejected with "database is locked" before the fix
    const rows = await deliver.db.selectFrom("suppression_entries").select("address")
      .orderBy("address").execute();
    assertEquals(rows.map((r) => r.address), ["first@example.test", "second@example.test"]);
  } finally {
    await accept.close();
    await deliver.close();
  }
});

Deno.test("same-thread stores share a connection, each store's turn at its own durability", async () => {
  await using dir = tempDir("fastmta-same-thread-");
  const config = parseConfig({ data_dir: dir.path });
  const deliver = await openStore(config, "deliver");
  await deliver.migrate();
  const synchronous = async (store: typeof deliver) =>
    (await sql<{ synchronous: number }>`PRAGMA synchronous`.execute(store.db)).rows[0]
      .synchronous;
  assertEquals(await synchronous(deliver), 1); // NORMAL
  const accept = await openStore(config, "accept");
  assertEquals(await synchronous(accept), 2); // FULL, for the accept path's commits
  // The deliver store's settles stay NORMAL: an accept store on the thread costs them no fsync.
  assertEquals(await synchronous(deliver), 1);
  assertEquals(await synchronous(accept), 2);
  // Closing one store leaves the other working; the last one closes the connection.
  await accept.close();
  await deliver.addSuppressions([suppression("after@example.test")]);
  await deliver.close();
  const again = await openStore(config, "admin");
  try {
    assertEquals((await again.suppressions(["after@example.test"], Date.now())).length, 1);
  } finally {
    await again.close();
  }
});
