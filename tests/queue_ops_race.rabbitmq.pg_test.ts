/**
 * Two processes retrying or releasing the same units at once publish one live copy of each
 * (issue 14, queue operations' known risk): the state change is a conditional update, and only
 * the caller whose update moved the row publishes, inside that transaction. Two operate queues,
 * each with its own PostgreSQL pool (as two nodes have), race on every unit of a real vhost;
 * the broker then holds exactly one new message per unit, and SQL moved each unit once.
 */
import { assertEquals } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { rabbitmqctl, sharedDatabase, testVhost } from "./helpers/rabbitmq.ts";
import { waitUntil } from "./helpers/wait.ts";
import { parseConfig } from "../core/config/mod.ts";
import type { NewMessage } from "../core/contracts/mod.ts";
import { openQueue } from "../core/queue/mod.ts";
import { openStore } from "../core/store/mod.ts";
import { newQueueId } from "../core/accept/mod.ts";

const UNITS = 12;

function message(i: number): NewMessage {
  return {
    id: newQueueId(),
    sender: "sender@origin.test",
    recipients: [`r${i}@d${i}.test`],
    channel: "api",
    clientIp: null,
    receivedAt: Date.now(),
    body: new TextEncoder().encode("Subject: race\r\n\r\nbody\r\n"),
  };
}

/** Messages in every queue of the vhost (nothing consumes them in this test). */
async function brokerMessages(vhost: string): Promise<number> {
  const out = await rabbitmqctl("list_queues", "-q", "-p", vhost, "--no-table-headers", "messages");
  return out.split("\n").map((l) => Number(l.trim()) || 0).reduce((a, b) => a + b, 0);
}

async function expectBroker(vhost: string, wanted: number, what: string) {
  let seen = -1;
  await waitUntil(async () => (seen = await brokerMessages(vhost)) === wanted, {
    timeoutMs: 20_000,
    message: `${what}: ${wanted} messages on the broker`,
  }).catch((error) => {
    throw new Error(`${(error as Error).message}; saw ${seen}`);
  });
}

Deno.test("concurrent retry and release on RabbitMQ publish one live copy per unit", async () => {
  await using dir = tempDir("fastmta-race-");
  await using vhost = await testVhost();
  await using database = await sharedDatabase(dir.path);
  const config = parseConfig({
    id: "race",
    data_dir: dir.path,
    database: database.config,
    rabbitmq: vhost.config,
  });
  const log = () => {};
  const store = await openStore(config, "deliver", { log });
  await store.migrate();
  // A second pool, as a second process has: its updates wait on the first's row locks.
  const otherStore = await openStore(config, "deliver", { log });
  const accept = await openQueue(config, store, { role: "accept", log });
  const one = await openQueue(config, store, { role: "operate", log });
  const two = await openQueue(config, otherStore, { role: "operate", log });
  try {
    const messages = Array.from({ length: UNITS }, (_, i) => message(i));
    await accept.enqueue(messages);
    await expectBroker(vhost.name, UNITS, "accepted");
    const units = await store.searchUnits({}, { limit: 100 });
    const ids = units.map((u) => u.id);
    assertEquals(ids.length, UNITS);
    const copies = async () =>
      new Map((await store.unitCopies(ids)).map((u) => [u.unitId, u.copy]));
    const before = await copies();

    // Waiting for a later attempt (as a deferral leaves them), so retry applies.
    await store.db.updateTable("queue").set({ due_at: Date.now() + 3_600_000 })
      .where("id", "in", ids).execute();
    const retried = await Promise.all(
      ids.flatMap((id) => [one.retryNow([id]), two.retryNow([id])]),
    );
    assertEquals(retried.reduce((a, b) => a + b, 0), UNITS, "each unit retried once");
    const after = await copies();
    for (const id of ids) assertEquals(after.get(id), before.get(id)! + 1, `unit ${id}`);
    await expectBroker(vhost.name, 2 * UNITS, "one retry copy per unit");

    // Held (quarantined) by an operator, then released by two processes at once.
    assertEquals(await store.holdUnits(ids, "held by race", Date.now()), UNITS);
    const released = await Promise.all(
      messages.flatMap((m) => [one.resume(m.id), two.resume(m.id)]),
    );
    assertEquals(released.reduce((a, b) => a + b, 0), UNITS, "each unit released once");
    const final = await copies();
    for (const id of ids) assertEquals(final.get(id), before.get(id)! + 3, `unit ${id}`);
    await expectBroker(vhost.name, 3 * UNITS, "one release copy per unit");
    const states = await store.searchUnits({ state: "queued" }, { limit: 100 });
    assertEquals(states.length, UNITS, "every unit queued again");
  } finally {
    await one.close();
    await two.close();
    await accept.close();
    await otherStore.close();
    await store.close();
  }
});
