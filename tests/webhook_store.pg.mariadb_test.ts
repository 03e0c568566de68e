/**
 * The webhook store (core/store/webhooks.ts, migration 0015) on SQLite, PostgreSQL and MariaDB:
 * outbox rows in order, batches bounded by events, the posting lease held by one node at a
 * time, a POST's result (delivered, retry, dead) in one transaction, dead letters replayed.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { testDatabaseKinds } from "./helpers/databases.ts";
import { withStore } from "./helpers/store_contract.ts";
import type { SqlStore } from "../core/store/mod.ts";

const T0 = 1_750_000_000_000;

function rowOf(webhookId: string, from: number, count: number) {
  const events = Array.from(
    { length: count },
    (_, i) => ({ id: `e${from + i}`, at: T0 + from + i }),
  );
  return { webhookId, createdAt: T0 + from, events: count, body: JSON.stringify(events) };
}

async function addHook(store: SqlStore, id: string) {
  assert(
    await store.insertWebhook({
      id,
      url: "https://hooks.example.org/",
      events: ["*"],
      secret: "sealed",
      createdAt: T0,
      createdBy: "test",
    }),
  );
}

const CASES: Record<string, (store: SqlStore) => Promise<void>> = {
  "batches, lease, delivered and dead results, replay": async (store) => {
    await addHook(store, "w1");
    await addHook(store, "w2");
    assertEquals(
      await store.insertWebhook({
        id: "w1",
        url: "https://x.test/",
        events: ["*"],
        secret: "s",
        createdAt: T0,
        createdBy: "test",
      }),
      false,
    );
    await store.enqueueWebhookEvents([rowOf("w1", 0, 3), rowOf("w2", 0, 1), rowOf("w1", 3, 4)]);
    await store.enqueueWebhookEvents([rowOf("w1", 7, 5)]);
    assertEquals(await store.webhookBacklog("w1"), 12);

    // One node at a time.
    assert(await store.claimWebhook("w1", "node-a", T0, T0 + 30_000));
    assertEquals(await store.claimWebhook("w1", "node-b", T0 + 1, T0 + 30_001), false);
    assert(await store.claimWebhook("w1", "node-a", T0 + 2, T0 + 30_002));
    assert(await store.claimWebhook("w1", "node-b", T0 + 30_003, T0 + 60_000), "after the lease");

    // Rows up to 8 events: the first two (3 + 4).
    const batch = await store.webhookBatch("w1", 8);
    assertEquals(batch.map((r) => r.events), [3, 4]);
    await store.recordWebhookPost({
      webhookId: "w1",
      seqs: batch.map((r) => r.seq),
      events: 7,
      at: T0 + 10,
      node: "node-b",
      status: 200,
      error: null,
      durationMs: 12,
      outcome: "delivered",
      nextAttemptAt: 0,
      failures: 0,
    });
    // A row bigger than the limit still comes alone.
    const big = await store.webhookBatch("w1", 2);
    assertEquals(big.map((r) => r.events), [5]);
    await store.recordWebhookPost({
      webhookId: "w1",
      seqs: big.map((r) => r.seq),
      events: 5,
      at: T0 + 20,
      node: "node-b",
      status: 503,
      error: "HTTP 503",
      durationMs: 5,
      outcome: "dead",
      nextAttemptAt: T0 + 1_020,
      failures: 3,
      dead: { body: big[0].body, firstEventAt: big[0].createdAt, reason: "HTTP 503" },
    });
    assertEquals(await store.webhookBacklog("w1"), 0);
    const w1 = (await store.getWebhook("w1"))!;
    assertEquals([w1.delivered, w1.dead, w1.failures, w1.lastStatus], [7, 5, 3, 503]);
    assertEquals((await store.webhookAttempts("w1", 10)).map((a) => a.status), [503, 200]);
    const letters = await store.webhookDeadLetters("w1", 10);
    assertEquals(letters.map((l) => [l.events, l.replayedAt]), [[5, null]]);

    assertEquals(await store.replayWebhookDeadLetters("w1", T0 + 99), 5);
    assertEquals(await store.replayWebhookDeadLetters("w1", T0 + 100), 0, "replayed once");
    const again = await store.webhookBatch("w1", 100);
    assertEquals(again.map((r) => [r.events, r.createdAt]), [[5, T0 + 99]]);
    assertEquals(JSON.parse(again[0].body).length, 5);
    assertEquals(await store.webhookBacklog("w2"), 1, "the other webhook's rows untouched");

    assertEquals(
      await store.updateWebhook("w2", { enabled: false }, { at: T0, name: "t", ifVersion: 9 }),
      null,
    );
    assertEquals(await store.updateWebhook("w2", { enabled: false }, { at: T0, name: "t" }), 2);
    assert(await store.deleteWebhook("w2"));
    assertEquals(await store.webhookBacklog("w2"), 0);
    assertEquals((await store.listWebhooks()).map((w) => w.id), ["w1"]);
  },
};

for (const kind of testDatabaseKinds()) {
  for (const [name, fn] of Object.entries(CASES)) {
    Deno.test({
      name: `webhook store (${kind}): ${name}`,
      sanitizeOps: false,
      sanitizeResources: false,
      fn: () => withStore(kind, fn),
    });
  }
}
