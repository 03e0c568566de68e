/**
 * The schedule role's consumer on RabbitMQ: units arrive pushed (manual ack, prefetch bounded)
 * from the work queue of every priority level into one buffer per level, from `startTaking()`
 * (called once the delivery workers are ready) until `stopTaking()` (which cancels the
 * consumers and requeues what was pushed and not leased). Also keeps the copies redelivered
 * while their unit is still being attempted here, until that attempt settles.
 *
 * Reads config: rabbitmq.prefetch, queue.batch_size, delivery.concurrency, delivery.workers.
 */
import type { Channel, ChannelModel, ConsumeMessage } from "amqplib";
import type { Config } from "../config/mod.ts";
import type { BrokerLink, BrokerSettings } from "./broker.ts";

/** One pushed message and the channel (generation) that must ack it. */
export interface Delivery {
  msg: ConsumeMessage;
  ch: Channel;
  generation: number;
  level: number;
  /** When it was pushed to this node. */
  at: number;
}

/** The consumer channel of one connection; consuming once `tags` is set. */
interface ConsumerChannel {
  ch: Channel;
  generation: number;
  tags: string[] | null;
  /**
   * Delivery tags pushed and not yet acked or requeued, in the order pushed (the broker numbers
   * them upwards, so the first is the lowest): what tells {@link UnitConsumer.ackSettled} which
   * acks one `multiple` ack may stand for.
   */
  open: Set<number>;
}

/** Pushed units per priority level, and the copies held back for a redelivery. */
export class UnitConsumer {
  #config: Config;
  #workQueues: string[];
  #link: BrokerLink;
  #log: (line: string) => void;
  // Pushed units not yet leased, per priority level (index = level).
  #buffers: Delivery[][];
  #held = new Map<string, Delivery[]>();
  #listeners: (() => void)[] = [];
  // Consuming only between startTaking() and stopTaking().
  #taking = false;
  #consumer: ConsumerChannel | null = null;
  #notifyScheduled = false;

  constructor(
    config: Config,
    settings: BrokerSettings,
    link: BrokerLink,
    log: (line: string) => void,
  ) {
    this.#config = config;
    this.#workQueues = settings.names.workQueues;
    this.#link = link;
    this.#log = log;
    this.#buffers = this.#workQueues.map(() => []);
  }

  /** Whether units are being taken (between startTaking and stopTaking). */
  get taking(): boolean {
    return this.#taking;
  }

  /** Units pushed to this node and not leased yet. */
  get buffered(): number {
    return this.#buffers.reduce((n, b) => n + b.length, 0);
  }

  /** Whether any unit is waiting to be leased. */
  hasBuffered(): boolean {
    return this.#buffers.some((b) => b.length > 0);
  }

  /** A new connection: opens its consumer channel, and consumes if taking. */
  async setup(model: ChannelModel, generation: number): Promise<void> {
    const ch = await model.createChannel();
    ch.on("error", () => {});
    const capacity = this.#config.delivery.concurrency * this.#config.delivery.workers;
    await ch.prefetch(
      this.#config.rabbitmq?.prefetch ?? capacity + this.#config.queue.batch_size,
    );
    this.#buffers = this.#workQueues.map(() => []);
    this.#held.clear();
    this.#consumer = { ch, generation, tags: null, open: new Set() };
    if (this.#taking) await this.#consume(this.#consumer);
  }

  /** The connection is gone: the broker requeued everything it held unacknowledged. */
  down() {
    this.#consumer = null;
    this.#buffers = this.#workQueues.map(() => []);
    this.#held.clear();
  }

  /** Starts the consumers of every work queue on `consumer`'s channel (once). */
  async #consume(consumer: ConsumerChannel) {
    if (consumer.tags) return;
    consumer.tags = [];
    const { ch, generation } = consumer;
    const workQueues = this.#workQueues;
    for (let level = 0; level < workQueues.length; level++) {
      const { consumerTag } = await ch.consume(workQueues[level], (msg) => {
        if (msg === null) {
          this.#log(`queue: consumer of ${workQueues[level]} cancelled by the broker`);
          this.#link.drop();
          return;
        }
        const delivery = { msg, ch, generation, level, at: Date.now() };
        consumer.open.add(msg.fields.deliveryTag);
        // Pushed after stopTaking() began (before the cancel took effect): straight back.
        if (!this.#taking) return this.ack(delivery, true);
        this.#buffers[level].push(delivery);
        this.#notify();
      }, { noAck: false });
      consumer.tags.push(consumerTag);
    }
  }

  /** Starts consuming (a node takes nothing before it can handle it). */
  async startTaking(): Promise<void> {
    if (this.#taking) return;
    this.#taking = true;
    const consumer = this.#consumer;
    if (!consumer) return; // not connected: the next connection's setup consumes
    try {
      await this.#consume(consumer);
    } catch (error) {
      // The connection went away meanwhile; its successor's setup consumes.
      this.#log(`queue: cannot start consuming: ${(error as Error).message}`);
    }
  }

  /**
   * Cancels the consumers, then requeues everything pushed and not leased (units held for a
   * redelivery go back when their unit settles); resolves with how many.
   */
  async stopTaking(): Promise<number> {
    if (!this.#taking) return 0;
    this.#taking = false;
    const consumer = this.#consumer;
    if (consumer?.tags) {
      // Deliveries pushed before the cancel-ok arrive before it, into the buffer.
      await Promise.all(consumer.tags.map((tag) => consumer.ch.cancel(tag))).catch(() => {});
    }
    let returned = 0;
    for (const buffer of this.#buffers) {
      for (const delivery of buffer.splice(0)) {
        this.ack(delivery, true);
        returned++;
      }
    }
    return returned;
  }

  /** Requeues units pushed before `before` and still not leased; their ids. */
  returnWaiting(before: number): string[] {
    const ids: string[] = [];
    for (const buffer of this.#buffers) {
      for (let i = buffer.length - 1; i >= 0; i--) {
        if (buffer[i].at >= before) continue;
        const [delivery] = buffer.splice(i, 1);
        ids.push(String(delivery.msg.properties.messageId ?? "?"));
        this.ack(delivery, true);
      }
    }
    return ids;
  }

  #notify() {
    if (this.#notifyScheduled) return;
    this.#notifyScheduled = true;
    setTimeout(() => {
      this.#notifyScheduled = false;
      for (const listener of this.#listeners) listener();
    }, 0);
  }

  /** Calls `listener` (soon, once per burst) when units were pushed or came back. */
  onAvailable(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** Takes up to `limit` pushed units, highest priority level first. */
  take(limit: number): Delivery[] {
    const taken: Delivery[] = [];
    for (let level = this.#buffers.length - 1; level >= 0 && taken.length < limit; level--) {
      const buffer = this.#buffers[level];
      taken.push(...buffer.splice(0, limit - taken.length));
    }
    return taken;
  }

  /** Acks (or requeues) a pushed copy on its own channel, if that channel still exists. */
  ack(delivery: Delivery, requeue = false) {
    if (delivery.generation !== this.#link.generation) return; // its channel is gone
    this.#openOn(delivery)?.delete(delivery.msg.fields.deliveryTag);
    try {
      if (requeue) delivery.ch.nack(delivery.msg, false, true);
      else delivery.ch.ack(delivery.msg);
    } catch {
      // Closed meanwhile: the broker requeued it.
    }
  }

  /**
   * Acks settled copies with as few frames as it can: one `multiple` ack covers every copy of
   * the batch pushed before the oldest copy still open on the channel (each ack costs the broker
   * a settle command on the queue's log); the rest are acked one by one.
   */
  ackSettled(deliveries: readonly Delivery[]) {
    const current = deliveries.filter((d) => d.generation === this.#link.generation);
    const open = current.length > 1 ? this.#openOn(current[0]) : undefined;
    if (!open) {
      for (const delivery of current) this.ack(delivery);
      return;
    }
    for (const d of current) open.delete(d.msg.fields.deliveryTag);
    const oldest: number = open.values().next().value ?? Infinity;
    let last: Delivery | null = null;
    let covered = 0;
    for (const d of current) {
      const tag = d.msg.fields.deliveryTag;
      if (tag >= oldest) this.#send(d, false);
      else {
        covered++;
        if (!last || tag > last.msg.fields.deliveryTag) last = d;
      }
    }
    if (last) this.#send(last, covered > 1);
  }

  /** The open tags of the channel `delivery` came on, if it is the current consumer's. */
  #openOn(delivery: Delivery): Set<number> | undefined {
    const consumer = this.#consumer;
    return consumer && consumer.ch === delivery.ch ? consumer.open : undefined;
  }

  #send(delivery: Delivery, multiple: boolean) {
    try {
      delivery.ch.ack(delivery.msg, multiple);
    } catch {
      // Closed meanwhile: the broker requeued them.
    }
  }

  /**
   * A copy taken and not leased goes back: to the front of its buffer, or to the broker when
   * stopping; nothing when its connection is gone (the broker has it again).
   */
  putBack(delivery: Delivery) {
    if (!this.#taking) this.ack(delivery, true); // stopping: back to the broker
    else if (delivery.generation === this.#link.generation) {
      this.#buffers[delivery.level].unshift(delivery);
    }
  }

  /** Keeps a copy redelivered while `unitId` is being attempted here. */
  hold(delivery: Delivery, unitId: string) {
    let list = this.#held.get(unitId);
    if (!list) this.#held.set(unitId, list = []);
    list.push(delivery);
  }

  /** `unitId`'s attempt settled: the copies held for it are taken again (or requeued). */
  returnHeld(unitId: string) {
    const held = this.#held.get(unitId);
    if (!held) return;
    this.#held.delete(unitId);
    for (const delivery of held) this.putBack(delivery);
    this.#notify();
  }
}
