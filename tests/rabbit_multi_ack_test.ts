/**
 * Settled copies are acked with one `multiple` ack where the channel allows
 * (core/queue/rabbit_consumer.ts, `ackSettled`): never for a copy still open (pushed, not
 * settled), every settled copy exactly once. A fake channel plays the broker's side: a
 * `multiple` ack settles every open tag up to its own, and acking a tag it does not hold is the
 * channel error RabbitMQ raises ("unknown delivery tag").
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import type { Config } from "../core/config/mod.ts";
import type { BrokerLink, BrokerSettings } from "../core/queue/broker.ts";
import { type Delivery, UnitConsumer } from "../core/queue/rabbit_consumer.ts";

type Handler = (msg: unknown) => void;

/** The broker's view of one channel: tags delivered and not yet settled. */
class FakeChannel {
  unacked = new Set<number>();
  frames: { tag: number; multiple: boolean; requeue?: boolean }[] = [];
  handler: Handler | null = null;
  #next = 1;

  on() {}
  prefetch() {
    return Promise.resolve();
  }
  consume(_queue: string, handler: Handler) {
    this.handler = handler;
    return Promise.resolve({ consumerTag: "c1" });
  }
  push(n: number) {
    for (let i = 0; i < n; i++) {
      const tag = this.#next++;
      this.unacked.add(tag);
      this.handler!({ fields: { deliveryTag: tag }, properties: {}, content: new Uint8Array() });
    }
  }
  ack(msg: { fields: { deliveryTag: number } }, multiple = false) {
    const tag = msg.fields.deliveryTag;
    if (!this.unacked.has(tag)) throw new Error(`unknown delivery tag ${tag}`);
    this.frames.push({ tag, multiple });
    if (!multiple) this.unacked.delete(tag);
    else for (const t of [...this.unacked]) if (t <= tag) this.unacked.delete(t);
  }
  nack(msg: { fields: { deliveryTag: number } }, _all: boolean, requeue: boolean) {
    const tag = msg.fields.deliveryTag;
    if (!this.unacked.has(tag)) throw new Error(`unknown delivery tag ${tag}`);
    this.frames.push({ tag, multiple: false, requeue });
    this.unacked.delete(tag);
  }
}

async function consumer() {
  const ch = new FakeChannel();
  const config = {
    delivery: { concurrency: 10, workers: 1 },
    queue: { batch_size: 10 },
    rabbitmq: { prefetch: 100 },
  } as unknown as Config;
  const settings = { names: { workQueues: ["work"] } } as unknown as BrokerSettings;
  const link = { generation: 1, drop() {} } as unknown as BrokerLink;
  const c = new UnitConsumer(config, settings, link, () => {});
  await c.setup({ createChannel: () => Promise.resolve(ch) } as never, 1);
  await c.startTaking();
  return { c, ch };
}

const tags = (ds: Delivery[]) => ds.map((d) => d.msg.fields.deliveryTag);

Deno.test("settled copies below every open one go in one multiple ack; the rest one by one", async () => {
  const { c, ch } = await consumer();
  ch.push(6);
  const taken = c.take(6);
  assertEquals(tags(taken), [1, 2, 3, 4, 5, 6]);
  // 1–3 settled while 4–6 are still out: one frame.
  c.ackSettled([taken[2], taken[0], taken[1]]);
  assertEquals(ch.frames, [{ tag: 3, multiple: true }]);
  assertEquals([...ch.unacked], [4, 5, 6]);
  // 5 and 6 settled while 4 is open: each its own ack, 4 stays with the broker.
  c.ackSettled([taken[4], taken[5]]);
  assertEquals(ch.frames.slice(1), [{ tag: 5, multiple: false }, { tag: 6, multiple: false }]);
  assertEquals([...ch.unacked], [4]);
  c.ackSettled([taken[3]]);
  assertEquals(ch.unacked.size, 0);
});

Deno.test("a requeued or stale-acked copy does not hold a multiple ack back", async () => {
  const { c, ch } = await consumer();
  ch.push(5);
  const taken = c.take(5);
  c.ack(taken[0], true); // given back to the broker
  c.ack(taken[2]); // a stale copy, dropped
  c.ackSettled([taken[1], taken[3]]);
  // 4 covers 2 and 4; 1 and 3 were already settled, 5 is still open.
  assertEquals(ch.frames.at(-1), { tag: 4, multiple: true });
  assertEquals([...ch.unacked], [5]);
  // Copies of a connection that is gone are not acked at all.
  ch.push(1);
  const [late] = c.take(1);
  c.ackSettled([{ ...late, generation: 0 }, taken[4]]);
  assertEquals([...ch.unacked], [6]);
  assert(ch.frames.every((f) => f.tag !== 6));
});
