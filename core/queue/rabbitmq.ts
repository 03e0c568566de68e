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
 * Reads config: rabbitmq.*, queue.lease_time, queue.batch_size, delivery.concurrency,
 * delivery.workers.
 */
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from "amqplib";
import type { Config } from "../config/mod.ts";
import type { SqlStore } from "../store/mod.ts";
import {
  type LeasedUnit,
  type NewMessage,
  QUEUED_UNIT_VERSION,
  type QueuedUnit,
  type UnitOutcome,
  unitsOf,
} from "./contracts.ts";
import {
  BrokerLink,
  type BrokerSettings,
  BrokerUnavailableError,
  openConfirmChannel,
  publishConfirmed,
} from "./broker.ts";
import { pickTier } from "./delay.ts";
import { faultPoint } from "../fault_points.ts";
import {
  failureReason,
  type FailureRecord,
  isInfrastructureError,
  reportFailures,
  type UnitFailure,
} from "./failures.ts";
import type { OpenQueueOptions, Queue, QueueRole } from "./mod.ts";
import {
  confirmMessages,
  forgetMessages,
  sweepUnconfirmed,
  unitOrigins,
  type UnitState,
  unitStates,
} from "./_units_sql.ts";

/** How long a batch may wait for the broker's confirms before it counts as not durable. */
const CONFIRM_TIMEOUT_MS = 30_000;

/** Most unconfirmed messages one sweep statement removes, and most statements per sweep. */
const UNCONFIRMED_SWEEP_BATCH = 500;
const UNCONFIRMED_SWEEP_ROUNDS = 20;

/** One pushed message and the channel (generation) that must ack it. */
interface Delivery {
  msg: ConsumeMessage;
  ch: Channel;
  generation: number;
  level: number;
  /** When it was pushed to this node. */
  at: number;
}

/** The schedule role's consumer channel of one connection; consuming once `tags` is set. */
interface Consumer {
  ch: Channel;
  generation: number;
  tags: string[] | null;
}

interface Lease {
  delivery: Delivery;
  unitId: string;
  at: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Parses a unit from a broker message body; null if it is not one we can read. */
export function decodeUnit(content: Uint8Array): QueuedUnit | null {
  try {
    const unit = JSON.parse(decoder.decode(content));
    if (
      unit?.v !== QUEUED_UNIT_VERSION || typeof unit.unitId !== "string" ||
      typeof unit.messageId !== "string" || !Array.isArray(unit.recipients) ||
      typeof unit.copy !== "number" || typeof unit.attempts !== "number" ||
      typeof unit.dueAt !== "number" ||
      // Every field that travels on to a delivery worker (structured clone recurses) is flat.
      typeof unit.domain !== "string" || typeof unit.sender !== "string" ||
      !unit.recipients.every((r: unknown) => typeof r === "string") ||
      (unit.priority !== undefined && typeof unit.priority !== "number")
    ) return null;
    return unit as QueuedUnit;
  } catch {
    return null;
  }
}

/**
 * Lease tokens say which connection generation and delivery tag to ack, and what the settle
 * side needs of the copy: `<generation>.<delivery tag>.<copy>.<settled attempts>.<priority>`.
 */
function leaseToken(delivery: Delivery, unit: QueuedUnit): string {
  const { generation, msg } = delivery;
  return `${generation}.${msg.fields.deliveryTag}.${unit.copy}.${unit.attempts}.${unit.priority}`;
}

function parseToken(token: string): { copy: number; attempts: number; priority: number } {
  const [, , copy, attempts, priority] = token.split(".").map(Number);
  return { copy, attempts, priority };
}

function parseMeta(text: string | null): Record<string, unknown> | null {
  if (!text) return null;
  try {
    const meta = JSON.parse(text);
    return meta !== null && typeof meta === "object" ? meta : null;
  } catch {
    return null;
  }
}

const FINAL = new Set(["delivered", "failed", "suppressed"]);

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no confirm for ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The queue on RabbitMQ plus the shared SQL store. */
export class RabbitQueue implements Queue {
  readonly kind = "rabbitmq";
  #config: Config;
  #store: SqlStore;
  #settings: BrokerSettings;
  #role: QueueRole;
  #log: (line: string) => void;
  #link: BrokerLink;
  #tiers: number[];
  #levels: number;
  #publisher: ConfirmChannel | null = null;
  // Schedule role: pushed units not yet leased, per priority level (index = level).
  #buffers: Delivery[][];
  #leases = new Map<string, Lease>();
  #unitsInFlight = new Map<string, string>();
  #held = new Map<string, Delivery[]>();
  #listeners: (() => void)[] = [];
  // Schedule role: consuming only between startTaking() and stopTaking().
  #taking = false;
  #consumer: Consumer | null = null;
  #notifyScheduled = false;
  #sweepTimer: ReturnType<typeof setInterval> | null = null;
  // Schedule role: the periodic sweep of unconfirmed messages (one at a time).
  #nextUnconfirmedSweep = 0;
  #unconfirmedSweep: Promise<unknown> | null = null;

  constructor(
    config: Config,
    store: SqlStore,
    settings: BrokerSettings,
    options: OpenQueueOptions,
  ) {
    this.#config = config;
    this.#store = store;
    this.#settings = settings;
    this.#role = options.role;
    this.#log = options.log;
    this.#tiers = settings.names.delayQueues.map((q) => q.ttlMs);
    this.#levels = settings.names.workQueues.length;
    this.#buffers = settings.names.workQueues.map(() => []);
    this.#link = new BrokerLink(settings, {
      name: `fastmta ${config.nodeId} ${options.role}`,
      log: (line) => this.#log(`queue: ${line}`),
      setup: (model, generation) => this.#setup(model, generation),
      onDown: () => this.#down(),
    });
  }

  /** Connects (first attempt only; reconnection continues in the background). */
  async start(): Promise<void> {
    await this.#link.start();
    if (this.#role === "schedule") {
      const every = Math.max(1_000, Math.min(60_000, this.#config.queue.lease_time / 4));
      this.#sweepTimer = setInterval(() => {
        this.#sweep();
        this.#sweepUnconfirmedSometimes();
      }, every);
    }
  }

  get ready(): boolean {
    return this.#link.up && this.#publisher !== null;
  }

  /** Units pushed to this node and not leased yet. */
  get buffered(): number {
    return this.#buffers.reduce((n, b) => n + b.length, 0);
  }

  /** The broker connection (for tests: drop it to simulate a cut). */
  get link(): BrokerLink {
    return this.#link;
  }

  async #setup(model: ChannelModel, generation: number) {
    const publisher = await openConfirmChannel(model);
    publisher.on("close", () => {
      if (this.#publisher === publisher) this.#publisher = null;
    });
    if (this.#role === "schedule") {
      const ch = await model.createChannel();
      ch.on("error", () => {});
      const capacity = this.#config.delivery.concurrency * this.#config.delivery.workers;
      await ch.prefetch(
        this.#config.rabbitmq?.prefetch ?? capacity + this.#config.queue.batch_size,
      );
      this.#buffers = this.#settings.names.workQueues.map(() => []);
      this.#held.clear();
      this.#consumer = { ch, generation, tags: null };
      if (this.#taking) await this.#consume(this.#consumer);
    }
    this.#publisher = publisher;
  }

  /** Starts the consumers of every work queue on `consumer`'s channel (once). */
  async #consume(consumer: Consumer) {
    if (consumer.tags) return;
    consumer.tags = [];
    const { ch, generation } = consumer;
    const { workQueues } = this.#settings.names;
    for (let level = 0; level < workQueues.length; level++) {
      const { consumerTag } = await ch.consume(workQueues[level], (msg) => {
        if (msg === null) {
          this.#log(`queue: consumer of ${workQueues[level]} cancelled by the broker`);
          this.#link.drop();
          return;
        }
        const delivery = { msg, ch, generation, level, at: Date.now() };
        // Pushed after stopTaking() began (before the cancel took effect): straight back.
        if (!this.#taking) return this.#ack(delivery, true);
        this.#buffers[level].push(delivery);
        this.#notify();
      }, { noAck: false });
      consumer.tags.push(consumerTag);
    }
  }

  /** Schedule role: starts consuming (a node takes nothing before it can handle it). */
  async startTaking(): Promise<void> {
    if (this.#role !== "schedule" || this.#taking) return;
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
   * Schedule role: cancels the consumers, then requeues everything pushed and not leased
   * (units held for a redelivery go back when their unit settles); resolves with how many.
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
        this.#ack(delivery, true);
        returned++;
      }
    }
    return returned;
  }

  async giveBack(units: { unitId: string; leaseToken: string }[]): Promise<void> {
    // Nothing was settled, so the copy on the broker still is the live one: requeue it.
    this.release(units.map((u) => u.leaseToken), true);
    return await Promise.resolve();
  }

  returnWaiting(before: number): string[] {
    const ids: string[] = [];
    for (const buffer of this.#buffers) {
      for (let i = buffer.length - 1; i >= 0; i--) {
        if (buffer[i].at >= before) continue;
        const [delivery] = buffer.splice(i, 1);
        ids.push(String(delivery.msg.properties.messageId ?? "?"));
        this.#ack(delivery, true);
      }
    }
    return ids;
  }

  #down() {
    // The broker requeued everything this connection held unacknowledged.
    this.#publisher = null;
    this.#consumer = null;
    this.#buffers = this.#settings.names.workQueues.map(() => []);
    this.#held.clear();
  }

  #notify() {
    if (this.#notifyScheduled) return;
    this.#notifyScheduled = true;
    setTimeout(() => {
      this.#notifyScheduled = false;
      for (const listener of this.#listeners) listener();
    }, 0);
  }

  onAvailable(listener: () => void): void {
    this.#listeners.push(listener);
  }

  #level(priority: unknown): number {
    const p = typeof priority === "number" && Number.isFinite(priority) ? Math.round(priority) : 0;
    return Math.min(Math.max(p, 0), this.#levels - 1);
  }

  /** Publishes a unit to the work queue if due, else to the delay tier that fits. */
  #publishUnit(ch: ConfirmChannel, unit: QueuedUnit, now: number): Promise<void> {
    const { names } = this.#settings;
    const key = names.workKeys[this.#level(unit.priority)];
    const remaining = unit.dueAt - now;
    const exchange = remaining <= 0
      ? names.workExchange
      : names.delayQueues[this.#tiers.indexOf(pickTier(this.#tiers, remaining))].name;
    return publishConfirmed(ch, exchange, key, encoder.encode(JSON.stringify(unit)), {
      messageId: unit.unitId,
      timestamp: Math.floor(now / 1000),
    });
  }

  async enqueue(messages: NewMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const ch = this.#publisher;
    if (!ch || !this.#link.up) throw new BrokerUnavailableError();
    const ids = messages.map((m) => m.id);
    await this.#store.insertMessages(messages, { unconfirmedSince: Date.now() });
    try {
      const now = Date.now();
      const published: Promise<void>[] = [];
      for (const m of messages) {
        const priority = this.#level(m.meta?.priority);
        for (const { unitId, domain, recipients } of unitsOf(m)) {
          published.push(this.#publishUnit(ch, {
            v: QUEUED_UNIT_VERSION,
            unitId,
            messageId: m.id,
            domain,
            sender: m.sender,
            recipients,
            copy: 0,
            attempts: 0,
            createdAt: m.receivedAt,
            dueAt: m.receivedAt,
            priority,
          }, now));
        }
      }
      await withTimeout(Promise.all(published), CONFIRM_TIMEOUT_MS, "a batch");
    } catch (error) {
      await this.#forget(ids);
      throw new BrokerUnavailableError((error as Error).message);
    }
    try {
      await confirmMessages(this.#store.db, ids);
    } catch (error) {
      // Not marked confirmed: undone like an unconfirmed batch (or, if the database is gone
      // too, left to the sweep); the client retries.
      await this.#forget(ids);
      throw error;
    }
  }

  async #forget(ids: string[]) {
    await forgetMessages(this.#store.db, ids).catch((e) =>
      this.#log(`queue: cannot remove unconfirmed messages: ${(e as Error).message}`)
    );
  }

  /**
   * Deletes messages still marked unconfirmed `rabbitmq.unconfirmed_grace` before `now` (their
   * node died between the SQL commit and the broker's confirm), in batches of 500, at most
   * 10 000 per call; logs and returns how many. Any node may run it at any time.
   */
  async sweepUnconfirmed(now = Date.now()): Promise<number> {
    const cutoff = now - this.#config.rabbitmq!.unconfirmed_grace;
    let removed = 0;
    let kept = 0;
    for (let round = 0; round < UNCONFIRMED_SWEEP_ROUNDS; round++) {
      const result = await sweepUnconfirmed(
        this.#store.db,
        this.#store.dialect,
        cutoff,
        UNCONFIRMED_SWEEP_BATCH,
      );
      removed += result.removed;
      kept += result.kept;
      if (result.found < UNCONFIRMED_SWEEP_BATCH) break;
    }
    if (removed > 0) {
      this.#log(
        `queue: removed ${removed} messages never confirmed by the broker (their node stopped ` +
          `between the database commit and the confirm; the clients were not told 250)`,
      );
    }
    if (kept > 0) {
      this.#log(`queue: ${kept} unconfirmed messages were being delivered already: kept`);
    }
    return removed;
  }

  /** From the periodic timer: a sweep every minute or so (a tenth of the grace when shorter). */
  #sweepUnconfirmedSometimes() {
    const now = Date.now();
    if (this.#unconfirmedSweep || now < this.#nextUnconfirmedSweep) return;
    const grace = this.#config.rabbitmq!.unconfirmed_grace;
    this.#nextUnconfirmedSweep = now + Math.min(60_000, Math.max(1_000, grace / 10));
    this.#unconfirmedSweep = this.sweepUnconfirmed(now)
      .catch((error) =>
        this.#log(`queue: sweep of unconfirmed messages failed: ${(error as Error).message}`)
      )
      .finally(() => this.#unconfirmedSweep = null);
  }

  #take(limit: number): Delivery[] {
    const taken: Delivery[] = [];
    for (let level = this.#levels - 1; level >= 0 && taken.length < limit; level--) {
      const buffer = this.#buffers[level];
      taken.push(...buffer.splice(0, limit - taken.length));
    }
    return taken;
  }

  #ack(delivery: Delivery, requeue = false) {
    if (delivery.generation !== this.#link.generation) return; // its channel is gone
    try {
      if (requeue) delivery.ch.nack(delivery.msg, false, true);
      else delivery.ch.ack(delivery.msg);
    } catch {
      // Closed meanwhile: the broker requeued it.
    }
  }

  #hold(delivery: Delivery, unitId: string) {
    let list = this.#held.get(unitId);
    if (!list) this.#held.set(unitId, list = []);
    list.push(delivery);
  }

  async lease(limit: number): Promise<LeasedUnit[]> {
    const out: LeasedUnit[] = [];
    while (out.length < limit) {
      const taken = this.#take(limit - out.length);
      if (taken.length === 0) break;
      await this.#admit(taken, out);
    }
    return out;
  }

  /** Sorts pushed copies into leases (`out`), copies to park, to hold, and stale ones. */
  async #admit(taken: Delivery[], out: LeasedUnit[]) {
    const now = Date.now();
    const candidates: { delivery: Delivery; unit: QueuedUnit }[] = [];
    const park: { delivery: Delivery; unit: QueuedUnit }[] = [];
    const unreadable: Delivery[] = [];
    for (const delivery of taken) {
      const unit = decodeUnit(delivery.msg.content);
      if (!unit) {
        unreadable.push(delivery);
      } else if (this.#unitsInFlight.has(unit.unitId)) {
        // Redelivered while this node still works on it: decide once that attempt settles.
        this.#hold(delivery, unit.unitId);
      } else if (unit.dueAt > now) {
        park.push({ delivery, unit });
      } else {
        candidates.push({ delivery, unit });
      }
    }
    let states;
    try {
      states = await unitStates(this.#store.db, candidates.map((c) => c.unit.unitId));
    } catch (error) {
      // Keep them for the next pass (they are still unacknowledged).
      for (const { delivery } of candidates.reverse()) {
        if (!this.#taking) this.#ack(delivery, true);
        else if (delivery.generation === this.#link.generation) {
          this.#buffers[delivery.level].unshift(delivery);
        }
      }
      await this.#park(park);
      this.#requeueUnreadable(unreadable);
      throw error;
    }
    const failed: { delivery: Delivery; failure: UnitFailure }[] = [];
    for (const { delivery, unit } of candidates) {
      // One unit that cannot be admitted must not cost the others theirs (docs/quarantine.md).
      try {
        this.#admitOne(delivery, unit, states.get(unit.unitId), now, out, park);
      } catch (error) {
        failed.push({
          delivery,
          failure: {
            unitId: unit.unitId,
            messageId: unit.messageId,
            leaseToken: "",
            copy: unit.copy,
            reason: failureReason("consume", error),
          },
        });
      }
    }
    await this.#park(park);
    await this.#failAdmits(failed);
    await this.#quarantineUnreadable(unreadable);
  }

  #admitOne(
    delivery: Delivery,
    unit: QueuedUnit,
    state: UnitState | undefined,
    now: number,
    out: LeasedUnit[],
    park: { delivery: Delivery; unit: QueuedUnit }[],
  ) {
    if (!state) {
      this.#log(`queue: unit ${unit.unitId} is not in the database; dropped`);
      this.#ack(delivery);
    } else if (state.state === "quarantined" && state.copy < unit.copy) {
      // The copy of a release whose SQL update is not committed (yet, or ever).
      park.push({ delivery, unit: { ...unit, dueAt: now + this.#tiers[0] } });
    } else if (state.state !== "queued" || state.copy > unit.copy) {
      this.#ack(delivery); // a stale copy: its unit moved on already (or is quarantined)
    } else if (state.copy < unit.copy) {
      // A retry copy whose settle is not committed (yet, or ever): look again shortly.
      park.push({ delivery, unit: { ...unit, dueAt: now + this.#tiers[0] } });
    } else if (this.#unitsInFlight.has(unit.unitId)) {
      this.#hold(delivery, unit.unitId);
    } else {
      faultPoint("consume", unit.unitId); // TEST ONLY (core/fault_points.ts)
      const token = leaseToken(delivery, unit);
      this.#leases.set(token, { delivery, unitId: unit.unitId, at: now });
      this.#unitsInFlight.set(unit.unitId, token);
      out.push({
        v: 1,
        unitId: unit.unitId,
        messageId: unit.messageId,
        domain: unit.domain,
        sender: unit.sender,
        attempts: unit.attempts + 1,
        createdAt: unit.createdAt,
        leaseToken: token,
        recipients: unit.recipients,
        meta: parseMeta(state.meta),
      });
    }
  }

  /** Counts the failures of units that could not be admitted, then returns them to the broker. */
  async #failAdmits(failed: { delivery: Delivery; failure: UnitFailure }[]) {
    if (failed.length === 0) return;
    try {
      reportFailures(
        await this.fail(failed.map((f) => f.failure)),
        (line) => this.#log(`queue: ${line}`),
      );
    } catch (error) {
      this.#log(
        `queue: cannot record ${failed.length} handling failures: ${(error as Error).message}`,
      );
    }
    // Redelivered at once; a quarantined one is then dropped by #admit (state not queued).
    for (const { delivery } of failed) this.#ack(delivery, true);
  }

  /**
   * A broker message we cannot read cannot be retried from: its unit (named by the message's
   * `messageId` property) is quarantined at once, and a release publishes a fresh copy from
   * SQL. One that names no unit is only logged and dropped.
   */
  async #quarantineUnreadable(deliveries: Delivery[]) {
    for (const delivery of deliveries) {
      const unitId = delivery.msg.properties.messageId;
      if (typeof unitId !== "string" || unitId === "") {
        this.#log(`queue: dropping an unreadable unit message that names no unit`);
        this.#ack(delivery);
        continue;
      }
      try {
        const held = await this.#store.quarantine.quarantineNow(
          unitId,
          "consume: unreadable broker message",
          Date.now(),
        );
        this.#log(
          held
            ? `quarantine: unit ${unitId} quarantined: consume: unreadable broker message`
            : `queue: dropping an unreadable copy of unit ${unitId} (not queued)`,
        );
        this.#ack(delivery);
      } catch (error) {
        if (!isInfrastructureError(error)) this.#log(`queue: ${(error as Error).message}`);
        this.#ack(delivery, true);
      }
    }
  }

  #requeueUnreadable(deliveries: Delivery[]) {
    for (const delivery of deliveries) this.#ack(delivery, true);
  }

  fail(failures: UnitFailure[]): Promise<FailureRecord[]> {
    return this.#store.quarantine.recordFailures(
      failures.map((f) => ({ ...f, copy: f.copy ?? parseToken(f.leaseToken).copy })),
      { limit: this.#config.queue.quarantine_after, now: Date.now() },
    );
  }

  /**
   * Publishes the next copy of each quarantined unit first (confirmed), then moves SQL on to it:
   * if the update never commits, #admit keeps parking that copy and the unit stays quarantined.
   */
  async resume(messageId: string): Promise<number> {
    const units = await this.#store.quarantine.quarantined(messageId);
    if (units.length > 0) {
      const ch = this.#publisher;
      if (!ch || !this.#link.up) throw new BrokerUnavailableError();
      const now = Date.now();
      const published = units.filter((u) => u.recipients.length > 0).map((u) =>
        this.#publishUnit(ch, {
          v: QUEUED_UNIT_VERSION,
          unitId: u.unitId,
          messageId: u.messageId,
          domain: u.domain,
          sender: u.sender,
          recipients: u.recipients,
          copy: u.copy + 1,
          attempts: u.attempts,
          createdAt: u.createdAt,
          dueAt: now,
          priority: this.#level(parseMeta(u.meta)?.priority),
        }, now)
      );
      try {
        await withTimeout(Promise.all(published), CONFIRM_TIMEOUT_MS, "released units");
      } catch (error) {
        throw new BrokerUnavailableError((error as Error).message);
      }
    }
    return await this.#store.quarantine.release(messageId, units, Date.now());
  }

  /** Re-publishes early copies to their delay tier, then acks the originals. */
  async #park(items: { delivery: Delivery; unit: QueuedUnit }[]) {
    if (items.length === 0) return;
    const ch = this.#publisher;
    if (!ch) return; // the connection is gone: the broker requeued the originals
    const now = Date.now();
    await Promise.all(items.map(async ({ delivery, unit }) => {
      try {
        await this.#publishUnit(ch, unit, now);
        this.#ack(delivery);
      } catch (error) {
        this.#log(`queue: cannot park unit ${unit.unitId}: ${(error as Error).message}`);
        this.#ack(delivery, true);
      }
    }));
  }

  release(tokens: string[], requeue: boolean): void {
    for (const token of tokens) {
      const lease = this.#leases.get(token);
      if (!lease) continue;
      this.#leases.delete(token);
      this.#ack(lease.delivery, requeue);
      if (this.#unitsInFlight.get(lease.unitId) === token) {
        this.#unitsInFlight.delete(lease.unitId);
        const held = this.#held.get(lease.unitId);
        if (held) {
          this.#held.delete(lease.unitId);
          for (const delivery of held) {
            if (!this.#taking) this.#ack(delivery, true); // stopping: back to the broker
            else if (delivery.generation === this.#link.generation) {
              this.#buffers[delivery.level].unshift(delivery);
            }
          }
          this.#notify();
        }
      }
    }
  }

  /** Leases held past `queue.lease_time` (a stuck or lost worker) go back to the broker. */
  #sweep() {
    const expired = Date.now() - this.#config.queue.lease_time;
    const stale = [...this.#leases].filter(([, lease]) => lease.at < expired).map(([t]) => t);
    if (stale.length === 0) return;
    this.#log(`queue: ${stale.length} leases expired; their units are due again`);
    this.release(stale, true);
  }

  async settle(outcomes: UnitOutcome[]): Promise<number> {
    if (outcomes.length === 0) return 0;
    // Units that stay queued get their next copy (retry or hold) before SQL says so.
    const next = outcomes.filter((o) =>
      o.held ? true : o.retryAt !== null && o.results.some((r) => r.outcome === "deferred")
    );
    if (next.length > 0) {
      const ch = this.#publisher;
      if (!ch || !this.#link.up) throw new BrokerUnavailableError();
      const origins = await unitOrigins(this.#store.db, next.map((o) => o.unitId));
      const now = Date.now();
      const published: Promise<void>[] = [];
      for (const o of next) {
        const origin = origins.get(o.unitId);
        if (!origin) continue;
        const done = new Set(o.results.filter((r) => FINAL.has(r.outcome)).map((r) => r.address));
        const recipients = origin.open.filter((address) => !done.has(address));
        if (recipients.length === 0) continue;
        const { copy, attempts, priority } = parseToken(o.leaseToken);
        published.push(this.#publishUnit(ch, {
          v: QUEUED_UNIT_VERSION,
          unitId: o.unitId,
          messageId: o.messageId,
          domain: o.domain,
          sender: origin.sender,
          recipients,
          copy: copy + 1,
          attempts: o.held ? attempts : attempts + 1,
          createdAt: origin.createdAt,
          dueAt: o.held ? o.held.until : o.retryAt!,
          priority,
        }, now));
      }
      try {
        await withTimeout(Promise.all(published), CONFIRM_TIMEOUT_MS, "retries");
      } catch (error) {
        throw new BrokerUnavailableError((error as Error).message);
      }
    }
    return await this.#store.settle(outcomes, {
      claim: (o) => parseToken(o.leaseToken).copy,
      nodeId: this.#config.nodeId,
    });
  }

  recover(): Promise<number> {
    // Nothing to do: the broker requeued what a previous run held unacknowledged.
    return Promise.resolve(0);
  }

  nextDueAt(): Promise<number | null> {
    const buffered = this.#buffers.some((b) => b.length > 0);
    return Promise.resolve(buffered ? Date.now() : null);
  }

  async close(): Promise<void> {
    if (this.#sweepTimer) clearInterval(this.#sweepTimer);
    await this.#unconfirmedSweep; // the caller closes the store next
    await this.#link.close();
  }
}
