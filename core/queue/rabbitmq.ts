/**
 * The RabbitMQ queue (distributed mode). The shared SQL database keeps what it keeps in embedded
 * mode — message bodies, recipients, units, the delivery log — and the broker carries the work:
 * one small JSON `QueuedUnit` per delivery unit in a durable (quorum) work queue per priority
 * level, and retries parked in per-TTL delay queues that dead-letter back (core/queue/delay.ts).
 *
 * - enqueue (accept role): SQL commit of the batch, its messages marked "not yet confirmed"
 *   (`messages.unconfirmed_since`), then publish its units and wait for the broker's confirms
 *   (one wait per batch), then clear the mark (one UPDATE per batch). Only then does the caller
 *   say "yes". A batch the broker did not confirm is deleted from SQL again and the caller says
 *   "try again". If the node dies in between, the marked rows are orphans nobody refers to: the
 *   schedule role of every node sweeps messages still marked after `rabbitmq.unconfirmed_grace`
 *   (default 10 min, far beyond the 30 s confirm timeout), in bounded batches.
 * - lease (schedule role): units arrive pushed (manual ack, prefetch bounded) from
 *   `startTaking()` (called once the delivery workers are ready) until `stopTaking()` (which
 *   cancels the consumers and requeues what was pushed and not leased); the scheduler takes
 *   them in priority order. Each is checked against SQL in one query per batch: a copy
 *   that is no longer the unit's live copy (`queue.copy_seq`) is dropped (acked), one that is
 *   due later is parked again. The AMQP delivery itself is the lease: if this node dies, the
 *   broker gives the unit to another node.
 * - settle (deliver role): the next copy of a unit that stays queued (a retry of deferred
 *   recipients, or a unit held by shaping) is published and confirmed first, then the outcomes
 *   are committed in SQL, each claiming its unit by copy number (copy n → n + 1: the first
 *   outcome of copy n wins, later ones are only logged), then the leasing side acks. Whatever
 *   crashes in between, either the original or the next copy is still in the broker and
 *   matches SQL (at-least-once).
 *
 * In parts, one job each: rabbit_publisher.ts (the link, its confirm channel, where a unit goes),
 * rabbit_accept.ts (enqueue, release from quarantine), rabbit_consumer.ts (pushed units),
 * rabbit_leases.ts (admitting them against SQL, leases, parking), rabbit_settler.ts (settle,
 * handling failures), rabbit_unconfirmed.ts (the sweep), rabbit_codec.ts (the broker formats).
 * This module gives each role its own class with only that role's methods ({@link QueueFor}).
 *
 * Reads config: rabbitmq.*, queue.lease_time, queue.batch_size, delivery.concurrency,
 * delivery.workers.
 */
import type { Config } from "../config/mod.ts";
import type {
  HeldOutcome,
  LeasedUnit,
  MessageBytes,
  NewMessage,
  UnitOutcome,
} from "../contracts/mod.ts";
import type { BrokerLink, BrokerSettings } from "./broker.ts";
import type { FailureRecord, UnitFailure } from "./failures.ts";
import type {
  AcceptQueue,
  DeliverQueue,
  OpenQueueOptions,
  OperateQueue,
  QueueFor,
  QueueRole,
  ScheduleQueue,
} from "./queue.ts";
import { enqueueMessages, resumeUnits } from "./rabbit_accept.ts";
import { UnitConsumer } from "./rabbit_consumer.ts";
import { LeaseBook } from "./rabbit_leases.ts";
import {
  type BrokerQueueStore,
  type ConnectionHooks,
  type RabbitContext,
  RabbitPublisher,
} from "./rabbit_publisher.ts";

export type { BrokerQueueStore } from "./rabbit_publisher.ts";
import { recordFailures, settleOutcomes } from "./rabbit_settler.ts";
import { claimOnBroker, holdOnBroker, retryNowOnBroker } from "./rabbit_operator.ts";
import { UnconfirmedSweeper } from "./rabbit_unconfirmed.ts";

/** What every role's queue on RabbitMQ has: the broker link and its publisher. */
abstract class RabbitQueueBase {
  readonly kind = "rabbitmq";
  protected readonly ctx: RabbitContext;

  constructor(
    config: Config,
    store: BrokerQueueStore,
    settings: BrokerSettings,
    options: OpenQueueOptions & { hooks?: ConnectionHooks },
  ) {
    const publisher = new RabbitPublisher(config, settings, options);
    this.ctx = { config, store, publisher, log: options.log, onQuarantined: options.onQuarantined };
  }

  /** Connects (first attempt only; reconnection continues in the background). */
  start(): Promise<void> {
    return this.ctx.publisher.link.start();
  }

  /** Whether `enqueue` can succeed now (false while the broker is unreachable). */
  get ready(): boolean {
    return this.ctx.publisher.ready;
  }

  /** The broker connection (for tests: drop it to simulate a cut). */
  get link(): BrokerLink {
    return this.ctx.publisher.link;
  }

  close(): Promise<void> {
    return this.ctx.publisher.link.close();
  }
}

/** The accept role: enqueue (SQL, then the broker's confirms) and release from quarantine. */
export class RabbitAcceptQueue extends RabbitQueueBase implements AcceptQueue {
  enqueue(messages: NewMessage<MessageBytes>[]): Promise<void> {
    return enqueueMessages(this.ctx, messages);
  }

  resume(messageId: string): Promise<number> {
    return resumeUnits(this.ctx, messageId);
  }
}

/** The operate role (core/manage): retry now, claim and settle (bounce now), release. */
export class RabbitOperateQueue extends RabbitQueueBase implements OperateQueue {
  enqueue(messages: NewMessage<MessageBytes>[]): Promise<void> {
    return enqueueMessages(this.ctx, messages);
  }

  settle(outcomes: UnitOutcome[]): Promise<number> {
    return settleOutcomes(this.ctx, outcomes);
  }

  fail(failures: UnitFailure[]): Promise<FailureRecord[]> {
    return recordFailures(this.ctx, failures);
  }

  resume(messageId: string): Promise<number> {
    return resumeUnits(this.ctx, messageId);
  }

  retryNow(unitIds: string[]): Promise<number> {
    return retryNowOnBroker(this.ctx, unitIds);
  }

  claim(unitIds: string[]): Promise<LeasedUnit[]> {
    return claimOnBroker(this.ctx, unitIds);
  }
}

/** The deliver role: settle outcomes and count handling failures; enqueue the DSNs. */
export class RabbitDeliverQueue extends RabbitQueueBase implements DeliverQueue {
  settle(outcomes: UnitOutcome[]): Promise<number> {
    return settleOutcomes(this.ctx, outcomes);
  }

  fail(failures: UnitFailure[]): Promise<FailureRecord[]> {
    return recordFailures(this.ctx, failures);
  }

  enqueue(messages: NewMessage<MessageBytes>[]): Promise<void> {
    return enqueueMessages(this.ctx, messages);
  }
}

/**
 * The schedule role: consumes pushed units between startTaking() and stopTaking(), leases
 * them, takes them back; sweeps expired leases and unconfirmed messages periodically.
 */
export class RabbitScheduleQueue extends RabbitQueueBase implements ScheduleQueue {
  #consumer: UnitConsumer;
  #leases: LeaseBook;
  #sweeper: UnconfirmedSweeper;
  #sweepTimer: ReturnType<typeof setInterval> | null = null;

  constructor(
    config: Config,
    store: BrokerQueueStore,
    settings: BrokerSettings,
    options: OpenQueueOptions,
  ) {
    // The consumer needs the link, which the hooks are given to: bound once both exist.
    const hooks: ConnectionHooks = {};
    super(config, store, settings, { ...options, hooks });
    const consumer = new UnitConsumer(config, settings, this.link, options.log);
    hooks.setup = (model, generation) => consumer.setup(model, generation);
    hooks.down = () => consumer.down();
    this.#consumer = consumer;
    this.#leases = new LeaseBook(this.ctx, consumer, (failures) => this.fail(failures));
    this.#sweeper = new UnconfirmedSweeper(config, store, options.log);
  }

  override async start(): Promise<void> {
    await super.start();
    const every = Math.max(1_000, Math.min(60_000, this.ctx.config.queue.lease_time / 4));
    this.#sweepTimer = setInterval(() => {
      this.#leases.sweepExpired();
      this.#sweeper.sometimes();
    }, every);
  }

  /** Units pushed to this node and not leased yet. */
  get buffered(): number {
    return this.#consumer.buffered;
  }

  startTaking(): Promise<void> {
    return this.#consumer.startTaking();
  }

  stopTaking(): Promise<number> {
    return this.#consumer.stopTaking();
  }

  lease(limit: number): Promise<LeasedUnit[]> {
    return this.#leases.lease(limit);
  }

  release(tokens: string[], requeue: boolean): void {
    this.#leases.release(tokens, requeue);
  }

  async giveBack(units: { unitId: string; leaseToken: string }[]): Promise<void> {
    // Nothing was settled, so the copy on the broker still is the live one: requeue it.
    this.release(units.map((u) => u.leaseToken), true);
    return await Promise.resolve();
  }

  returnWaiting(before: number): string[] {
    return this.#consumer.returnWaiting(before);
  }

  onAvailable(listener: () => void): void {
    this.#consumer.onAvailable(listener);
  }

  fail(failures: UnitFailure[]): Promise<FailureRecord[]> {
    return recordFailures(this.ctx, failures);
  }

  resume(messageId: string): Promise<number> {
    return resumeUnits(this.ctx, messageId);
  }

  retryNow(unitIds: string[]): Promise<number> {
    return retryNowOnBroker(this.ctx, unitIds);
  }

  async hold(outcomes: HeldOutcome[]): Promise<void> {
    if (outcomes.length === 0) return;
    await holdOnBroker(this.ctx, outcomes);
    // The next copies are in the broker and SQL names them: ack the copies held here.
    this.release(outcomes.map((o) => o.leaseToken), false);
  }

  /** See {@link UnconfirmedSweeper.sweep}. */
  sweepUnconfirmed(now = Date.now()): Promise<number> {
    return this.#sweeper.sweep(now);
  }

  recover(): Promise<number> {
    // Nothing to do: the broker requeued what a previous run held unacknowledged.
    return Promise.resolve(0);
  }

  nextDueAt(): Promise<number | null> {
    return Promise.resolve(this.#consumer.hasBuffered() ? Date.now() : null);
  }

  override async close(): Promise<void> {
    if (this.#sweepTimer) clearInterval(this.#sweepTimer);
    await this.#sweeper.running; // the caller closes the store next
    await super.close();
  }
}

/** A RabbitMQ queue class of one role. */
type RoleQueueClass<K extends QueueRole> = new (
  config: Config,
  store: BrokerQueueStore,
  settings: BrokerSettings,
  options: OpenQueueOptions,
) => QueueFor<K> & { start(): Promise<void> };

/** The RabbitMQ queue class of each role. */
const ROLE_QUEUES: { [K in QueueRole]: RoleQueueClass<K> } = {
  accept: RabbitAcceptQueue,
  schedule: RabbitScheduleQueue,
  deliver: RabbitDeliverQueue,
  operate: RabbitOperateQueue,
};

/** Opens and starts the RabbitMQ queue of `options.role` on an open store. */
export async function openRabbitQueue<R extends QueueRole>(
  config: Config,
  store: BrokerQueueStore,
  settings: BrokerSettings,
  options: OpenQueueOptions<R>,
): Promise<QueueFor<R>> {
  const RoleQueue: RoleQueueClass<R> = ROLE_QUEUES[options.role];
  const queue = new RoleQueue(config, store, settings, options);
  await queue.start();
  return queue;
}
