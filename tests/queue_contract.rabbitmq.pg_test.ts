/**
 * One contract for every `Queue` implementation (embedded on SQLite, RabbitMQ on a vhost of its
 * own with PostgreSQL), then what only the broker queue does: delay tiers and re-parking, stale copies,
 * priorities, refusing to accept while the broker is unreachable, and sweeping batches whose
 * node died between the SQL commit and the broker's confirm.
 */
import { Buffer } from "node:buffer";
import { assert, assertEquals, assertRejects } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { sharedDatabase, testVhost } from "./helpers/rabbitmq.ts";
import { waitUntil } from "./helpers/wait.ts";
import { parseConfig } from "../core/config/mod.ts";
import type { Config } from "../core/config/mod.ts";
import type { LeasedUnit, NewMessage, UnitOutcome } from "../core/contracts/mod.ts";
import {
  type AcceptQueue,
  type DeliverQueue,
  openQueue,
  type ScheduleQueue,
} from "../core/queue/mod.ts";
import type { RabbitAcceptQueue, RabbitScheduleQueue } from "../core/queue/rabbitmq.ts";
import { openStore, type SqlStore } from "../core/store/mod.ts";
import { newQueueId } from "../core/accept/mod.ts";

interface Harness extends AsyncDisposable {
  config: Config;
  store: SqlStore;
  accept: AcceptQueue;
  schedule: ScheduleQueue;
  deliver: DeliverQueue;
  /** Every queue's log lines. */
  logs: string[];
}

async function harness(
  kind: "embedded" | "rabbitmq",
  extra: Record<string, unknown> = {},
): Promise<Harness> {
  const dir = tempDir("fastmta-queue-");
  const vhost = kind === "rabbitmq" ? await testVhost() : null;
  // The broker queue runs on distributed mode's database (PostgreSQL), the embedded on SQLite.
  const database = vhost ? await sharedDatabase(dir.path) : null;
  const config = parseConfig({
    id: "contract",
    data_dir: dir.path,
    ...(database ? { database: database.config } : {}),
    delivery: { retry_schedule: ["700ms"] },
    queue: { lease_time: "1s" },
    ...(vhost ? { rabbitmq: { ...vhost.config, ...(extra.rabbitmq as object) } } : {}),
    ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== "rabbitmq")),
  });
  const store = await openStore(config, "deliver", { log: () => {} });
  await store.migrate();
  const logs: string[] = [];
  const log = (line: string) => logs.push(line);
  const accept = await openQueue(config, store, { role: "accept", log });
  const schedule = await openQueue(config, store, { role: "schedule", log });
  await schedule.startTaking(); // the scheduler's start (cli/serve.ts)
  const deliver = await openQueue(config, store, { role: "deliver", log });
  return {
    config,
    store,
    accept,
    schedule,
    deliver,
    logs,
    async [Symbol.asyncDispose]() {
      await accept.close();
      await schedule.close();
      await deliver.close();
      await store.close();
      await database?.[Symbol.asyncDispose]();
      await dir[Symbol.asyncDispose]();
    },
  };
}

function message(recipients: string[], meta?: Record<string, unknown>): NewMessage {
  return {
    id: newQueueId(),
    sender: "sender@origin.test",
    recipients,
    channel: "api",
    clientIp: null,
    receivedAt: Date.now(),
    body: new TextEncoder().encode("Subject: contract\r\n\r\nbody\r\n"),
    meta,
  };
}

/** Leases until `n` units came (units are pushed by the broker, so they may take a moment). */
async function leaseN(queue: ScheduleQueue, n: number, timeoutMs = 10_000): Promise<LeasedUnit[]> {
  const units: LeasedUnit[] = [];
  await waitUntil(async () => {
    units.push(...await queue.lease(n - units.length));
    return units.length >= n;
  }, { timeoutMs, message: `${n} units leased (got ${units.length})` });
  return units;
}

function outcome(
  unit: LeasedUnit,
  results: Record<string, "delivered" | "deferred" | "failed">,
  retryAt: number | null = null,
): UnitOutcome {
  return {
    unitId: unit.unitId,
    messageId: unit.messageId,
    domain: unit.domain,
    leaseToken: unit.leaseToken,
    at: Date.now(),
    durationMs: 1,
    sourceIp: null,
    mxHost: null,
    remoteIp: null,
    tls: false,
    results: Object.entries(results).map(([address, o]) => ({
      address,
      outcome: o,
      code: o === "delivered" ? 250 : o === "deferred" ? 451 : 550,
      reply: "test",
    })),
    ...(retryAt === null ? { kind: "final" as const } : {
      kind: "deferred" as const,
      retryAt,
      reason: "remote" as const,
    }),
  };
}

/** Settles on the deliver side and releases on the leasing side, like serve.ts does. */
async function settle(h: Harness, outcomes: UnitOutcome[]) {
  await h.deliver.settle(outcomes);
  h.schedule.release(outcomes.map((o) => o.leaseToken), false);
}

for (const kind of ["embedded", "rabbitmq"] as const) {
  Deno.test(`queue contract (${kind}): units per domain, leased once, settled once`, async () => {
    await using h = await harness(kind);
    const m = message(["a@one.test", "b@two.test", "c@one.test"]);
    await h.accept.enqueue([m]);
    const units = await leaseN(h.schedule, 2);
    assertEquals(
      units.map((u) => [u.domain, u.recipients, u.attempts]).sort(),
      [["one.test", ["a@one.test", "c@one.test"], 1], ["two.test", ["b@two.test"], 1]],
    );
    assertEquals(await h.schedule.lease(10), [], "a leased unit is not leased again");
    await settle(
      h,
      units.map((u) => outcome(u, Object.fromEntries(u.recipients.map((r) => [r, "delivered"])))),
    );
    const status = await h.store.messageStatus(m.id);
    assertEquals(status!.recipients.map((r) => r.state), ["delivered", "delivered", "delivered"]);
    assertEquals(await h.schedule.lease(10), [], "a settled unit is gone");
  });

  Deno.test(`queue contract (${kind}): a deferred unit comes back at its retry time`, async () => {
    await using h = await harness(kind);
    const m = message(["a@one.test", "b@one.test"]);
    await h.accept.enqueue([m]);
    const [unit] = await leaseN(h.schedule, 1);
    const retryAt = Date.now() + 700;
    await settle(h, [
      outcome(unit, { "a@one.test": "delivered", "b@one.test": "deferred" }, retryAt),
    ]);
    const [again] = await leaseN(h.schedule, 1);
    assert(Date.now() >= retryAt, `leased ${retryAt - Date.now()} ms early`);
    assertEquals(again.unitId, unit.unitId);
    assertEquals(again.attempts, 2);
    assertEquals(again.recipients, ["b@one.test"], "only the deferred recipient is retried");
    await settle(h, [outcome(again, { "b@one.test": "delivered" })]);
    const status = await h.store.messageStatus(m.id);
    assertEquals(status!.recipients.map((r) => [r.address, r.state, r.attempts]), [
      ["a@one.test", "delivered", 1],
      ["b@one.test", "delivered", 2],
    ]);
  });

  Deno.test(`queue contract (${kind}): a held unit comes back later, no attempt used`, async () => {
    await using h = await harness(kind);
    await h.accept.enqueue([message(["a@one.test", "b@one.test"])]);
    const [unit] = await leaseN(h.schedule, 1);
    const until = Date.now() + 600;
    await settle(h, [{
      ...outcome(unit, {}),
      kind: "held",
      reason: "paused",
      until,
      why: "paused by the operator",
    }]);
    const [again] = await leaseN(h.schedule, 1);
    assert(Date.now() >= until, `leased ${until - Date.now()} ms early`);
    assertEquals(again.attempts, 1, "a hold is not an attempt");
    assertEquals(again.recipients, ["a@one.test", "b@one.test"]);
  });

  Deno.test(`queue contract (${kind}): an abandoned lease comes back`, async () => {
    await using h = await harness(kind);
    await h.accept.enqueue([message(["a@one.test"])]);
    const [unit] = await leaseN(h.schedule, 1);
    h.schedule.release([unit.leaseToken], true);
    const [again] = await leaseN(h.schedule, 1, 5_000);
    assertEquals(again.unitId, unit.unitId);
    // A late outcome of the abandoned attempt does not settle the unit.
    await settle(h, [outcome(again, { "a@one.test": "delivered" })]);
    assertEquals(await h.deliver.settle([outcome(unit, { "a@one.test": "failed" })]), 1);
  });
}

Deno.test("rabbitmq queue: a delay longer than every tier is parked again, never early", async () => {
  await using h = await harness("rabbitmq", {
    rabbitmq: { delay_tiers: ["200ms"] },
    delivery: { retry_schedule: ["900ms"] }, // longer than the 200 ms tier: not declared
  });
  await h.accept.enqueue([message(["a@one.test"])]);
  const [unit] = await leaseN(h.schedule, 1);
  const retryAt = Date.now() + 900;
  await settle(h, [outcome(unit, { "a@one.test": "deferred" }, retryAt)]);
  const [again] = await leaseN(h.schedule, 1);
  const late = Date.now() - retryAt;
  assert(late >= 0, `leased ${-late} ms early`);
  assert(late < 1_000, `leased ${late} ms late`);
  assertEquals(again.attempts, 2);
});

Deno.test("rabbitmq queue: a copy of an attempt already settled is dropped", async () => {
  await using h = await harness("rabbitmq");
  const m = message(["a@one.test"]);
  await h.accept.enqueue([m]);
  const [unit] = await leaseN(h.schedule, 1);
  // A second copy of the same unit (as after a crash between publish and ack).
  const second = await openQueue(h.config, h.store, { role: "accept", log: () => {} });
  const ch = await (second as RabbitAcceptQueue).link.model!.createConfirmChannel();
  ch.publish(
    "fastmta.work",
    "p0",
    Buffer.from(JSON.stringify({
      v: 1,
      unitId: unit.unitId,
      messageId: m.id,
      domain: "one.test",
      sender: m.sender,
      recipients: ["a@one.test"],
      copy: 0,
      attempts: 0,
      createdAt: m.receivedAt,
      dueAt: m.receivedAt,
      priority: 0,
    })),
  );
  await ch.waitForConfirms();
  await ch.close();
  await second.close();
  const schedule = h.schedule as RabbitScheduleQueue;
  await waitUntil(() => schedule.buffered === 1, { message: "the copy pushed" });
  // While the original is in flight here, the copy waits; once settled, it is stale.
  assertEquals(await schedule.lease(5), []);
  await settle(h, [outcome(unit, { "a@one.test": "delivered" })]);
  assertEquals(await schedule.lease(5), []);
  assertEquals(schedule.buffered, 0);
  assertEquals(await schedule.nextDueAt(), null);
});

Deno.test("rabbitmq queue: a higher priority level is leased first", async () => {
  await using h = await harness("rabbitmq", { rabbitmq: { priorities: 2 } });
  const low = Array.from({ length: 5 }, () => message(["a@low.test"]));
  const high = message(["a@high.test"], { priority: 1 });
  await h.accept.enqueue(low);
  await h.accept.enqueue([high]);
  // Once all six were pushed to this node, the high-priority one is leased first.
  await waitUntil(() => (h.schedule as RabbitScheduleQueue).buffered === 6, {
    message: "six pushed",
  });
  const [first] = await h.schedule.lease(1);
  assertEquals(first.domain, "high.test");
});

Deno.test("rabbitmq queue: no accept while the broker is unreachable, then recovery", async () => {
  await using h = await harness("rabbitmq", { rabbitmq: { reconnect_max: "300ms" } });
  const link = (h.accept as RabbitAcceptQueue).link;
  await link.drop();
  assert(!h.accept.ready);
  const refused = message(["a@one.test"]);
  await assertRejects(() => h.accept.enqueue([refused]));
  assertEquals(await h.store.messageStatus(refused.id), null, "nothing half-accepted");
  await waitUntil(() => h.accept.ready, { message: "reconnected" });
  const m = message(["b@one.test"]);
  await h.accept.enqueue([m]);
  const [unit] = await leaseN(h.schedule, 1);
  assertEquals(unit.messageId, m.id);
});

/** Ids of the messages still marked as not confirmed by the broker. */
async function unconfirmedIds(store: SqlStore): Promise<string[]> {
  const rows = await store.db.selectFrom("messages").select("id")
    .where("unconfirmed_since", "is not", null).orderBy("id").execute();
  return rows.map((r) => r.id);
}

/** Rows left of these messages in messages, queue and recipients. */
async function rowsOf(store: SqlStore, ids: string[]): Promise<number> {
  let n = 0;
  for (const [table, column] of [["messages", "id"], ["queue", "message_id"]] as const) {
    n += (await store.db.selectFrom(table).select(column).where(column, "in", ids).execute())
      .length;
  }
  n += (await store.db.selectFrom("recipients").select("id").where("message_id", "in", ids)
    .execute()).length;
  return n;
}

const YEAR = 365 * 86_400_000;

Deno.test("rabbitmq queue: an accepted batch is marked confirmed before enqueue returns", async () => {
  await using h = await harness("rabbitmq");
  const batch = [message(["a@one.test"]), message(["b@one.test", "c@two.test"])];
  await h.accept.enqueue(batch);
  assertEquals(await unconfirmedIds(h.store), []);
  assertEquals((await h.store.counts(Date.now())).queued, 3);
  assertEquals((await h.store.listMessages({ limit: 10 })).length, 2);
});

Deno.test("rabbitmq queue: a batch committed but never confirmed is swept after the grace", async () => {
  // The grace comes from the config (default 10 min); the rows get commit times in the past.
  // (A long lease time keeps the periodic sweep out of the way: its first tick is after 60 s.)
  await using h = await harness("rabbitmq", {
    rabbitmq: { unconfirmed_grace: "2m" },
    queue: { lease_time: "4m" },
  });
  const schedule = h.schedule as RabbitScheduleQueue;
  const now = Date.now();
  // What the accept path commits before publishing, from a node that then died (kill -9).
  const crashed = [message(["a@one.test", "b@two.test"]), message(["c@one.test"])];
  await h.store.insertMessages(crashed, { unconfirmedSince: now - 121_000 });
  // A batch of a live node still waiting for its confirms: younger than the grace.
  const waiting = message(["d@one.test"]);
  await h.store.insertMessages([waiting], { unconfirmedSince: now - 119_000 });
  assertEquals((await h.store.counts(now)).queued, 0, "unconfirmed rows are not queued");
  assertEquals(await h.store.listMessages({ limit: 10 }), []);

  assertEquals(await schedule.sweepUnconfirmed(now), 2);
  assertEquals(await rowsOf(h.store, crashed.map((m) => m.id)), 0);
  assertEquals(await unconfirmedIds(h.store), [waiting.id]);
  assert(
    h.logs.some((l) => /^queue: removed 2 messages never confirmed by the broker/.test(l)),
    h.logs.join("\n"),
  );

  // Every node sweeps: two at once (and again) remove nothing more.
  const other = await openQueue(h.config, h.store, { role: "schedule", log: () => {} });
  try {
    assertEquals(
      await Promise.all([
        schedule.sweepUnconfirmed(now),
        (other as RabbitScheduleQueue).sweepUnconfirmed(now),
      ]),
      [0, 0],
    );
  } finally {
    await other.close();
  }
  // Once it is older than the grace too, the waiting batch goes the same way.
  assertEquals(await schedule.sweepUnconfirmed(now + 2_000), 1);
  assertEquals(await rowsOf(h.store, [waiting.id]), 0);
});

Deno.test("rabbitmq queue: the schedule role sweeps by itself", async () => {
  await using h = await harness("rabbitmq", { rabbitmq: { unconfirmed_grace: "1m" } });
  const crashed = message(["a@one.test"]);
  await h.store.insertMessages([crashed], { unconfirmedSince: Date.now() - 61_000 });
  // The lease sweep runs every second here; it sweeps unconfirmed rows every 6 s (grace / 10).
  await waitUntil(async () => await rowsOf(h.store, [crashed.id]) === 0, {
    timeoutMs: 15_000,
    message: "the crashed batch swept",
  });
});

Deno.test("rabbitmq queue: confirmed messages are never swept", async () => {
  await using h = await harness("rabbitmq");
  const schedule = h.schedule as RabbitScheduleQueue;
  const [queued, deferred] = [message(["a@one.test"]), message(["b@two.test"])];
  await h.accept.enqueue([queued, deferred]);
  const units = await leaseN(h.schedule, 2);
  const unit = units.find((u) => u.messageId === deferred.id)!;
  await settle(h, [outcome(unit, { "b@two.test": "deferred" }, Date.now() + 60_000)]);
  // A year later (if nothing else happened), nothing is unconfirmed, so nothing goes.
  assertEquals(await schedule.sweepUnconfirmed(Date.now() + YEAR), 0);
  assertEquals(await rowsOf(h.store, [queued.id, deferred.id]), 6);
  const status = await h.store.messageStatus(deferred.id);
  assertEquals(status!.recipients.map((r) => r.state), ["deferred"]);

  // A batch the broker confirmed whose node died before clearing the mark, and that another
  // node then delivered: kept (and unmarked), not deleted under the delivery log.
  const late = message(["c@one.test"]);
  await h.store.insertMessages([late], { unconfirmedSince: Date.now() - YEAR });
  await h.store.db.updateTable("queue").set({ copy_seq: 1, state: "done" })
    .where("message_id", "=", late.id).execute();
  assertEquals(await schedule.sweepUnconfirmed(), 0);
  assertEquals(await rowsOf(h.store, [late.id]), 3);
  assertEquals(await unconfirmedIds(h.store), []);
});
