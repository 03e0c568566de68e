/**
 * The RabbitMQ queue's connection and publishing side, shared by every role: the broker link
 * (reconnecting in the background), its confirm channel, and where a unit goes — the work
 * queue of its priority level when due, else the delay tier that fits (core/queue/delay.ts).
 * Publishes are confirmed in batches: one wait per batch, bounded by CONFIRM_TIMEOUT_MS.
 *
 * Reads config: rabbitmq.* (through the broker settings).
 */
import type { ChannelModel, ConfirmChannel } from "amqplib";
import type { Config } from "../config/mod.ts";
import { withTimeout } from "../timeout.ts";
import type { BrokerUnitStore, QuarantineStore, QueueOpsStore, UnitStore } from "../store/mod.ts";
import { parseMeta, QUEUED_UNIT_VERSION, type QueuedUnit } from "../contracts/mod.ts";
import {
  BrokerLink,
  type BrokerSettings,
  BrokerUnavailableError,
  openConfirmChannel,
  publishConfirmed,
} from "./broker.ts";
import { pickTier } from "./delay.ts";
import type { QueueRole } from "./queue.ts";
import { encodeUnit } from "./rabbit_codec.ts";

/** How long a batch may wait for the broker's confirms before it counts as not durable. */
const CONFIRM_TIMEOUT_MS = 30_000;

/** What the broker queue reads and writes in SQL. */
export type BrokerQueueStore =
  & Pick<UnitStore, "insertMessages" | "settle">
  & BrokerUnitStore
  & Pick<QueueOpsStore, "unitCopies" | "moveCopies">
  & { readonly quarantine: QuarantineStore };

/** What the parts of the RabbitMQ queue share. */
export interface RabbitContext {
  config: Config;
  store: BrokerQueueStore;
  publisher: RabbitPublisher;
  log: (line: string) => void;
  onQuarantined?: (record: { unitId: string; messageId: string; reason: string }) => void;
}

/** What a role adds to setting up and losing a connection (the schedule role's consumer). */
export interface ConnectionHooks {
  /** Runs on each new connection, before the publisher counts as ready. */
  setup?: (model: ChannelModel, generation: number) => Promise<void>;
  /** The connection is gone: the broker requeued everything it held unacknowledged. */
  down?: () => void;
}

/** The broker link and its confirm channel. */
export class RabbitPublisher {
  readonly link: BrokerLink;
  /** The delay tiers' TTLs, shortest first. */
  readonly tiers: number[];
  #names: BrokerSettings["names"];
  #levels: number;
  #hooks: ConnectionHooks;
  #channel: ConfirmChannel | null = null;

  constructor(
    config: Config,
    settings: BrokerSettings,
    options: { role: QueueRole; log: (line: string) => void; hooks?: ConnectionHooks },
  ) {
    this.#names = settings.names;
    this.#hooks = options.hooks ?? {};
    this.tiers = settings.names.delayQueues.map((q) => q.ttlMs);
    this.#levels = settings.names.workQueues.length;
    this.link = new BrokerLink(settings, {
      name: `fastmta ${config.nodeId} ${options.role}`,
      log: (line) => options.log(`queue: ${line}`),
      setup: (model, generation) => this.#setup(model, generation),
      onDown: () => {
        this.#channel = null;
        this.#hooks.down?.();
      },
    });
  }

  async #setup(model: ChannelModel, generation: number) {
    const publisher = await openConfirmChannel(model);
    publisher.on("close", () => {
      if (this.#channel === publisher) this.#channel = null;
    });
    if (this.#hooks.setup) await this.#hooks.setup(model, generation);
    this.#channel = publisher;
  }

  /** Whether publishing can succeed now. */
  get ready(): boolean {
    return this.link.up && this.#channel !== null;
  }

  /** The confirm channel, or null while there is none (the originals stay with the broker). */
  get channel(): ConfirmChannel | null {
    return this.#channel;
  }

  /** The confirm channel of a connection that is up; throws BrokerUnavailableError if none. */
  channelOrThrow(): ConfirmChannel {
    const ch = this.#channel;
    if (!ch || !this.link.up) throw new BrokerUnavailableError();
    return ch;
  }

  /** The work queue level of a priority (clamped to the configured levels). */
  level(priority: unknown): number {
    const p = typeof priority === "number" && Number.isFinite(priority) ? Math.round(priority) : 0;
    return Math.min(Math.max(p, 0), this.#levels - 1);
  }

  /** Publishes a unit to the work queue if due, else to the delay tier that fits. */
  publish(ch: ConfirmChannel, unit: QueuedUnit, now: number): Promise<void> {
    const names = this.#names;
    const key = names.workKeys[this.level(unit.priority)];
    const remaining = unit.dueAt - now;
    const exchange = remaining <= 0
      ? names.workExchange
      : names.delayQueues[this.tiers.indexOf(pickTier(this.tiers, remaining))].name;
    return publishConfirmed(ch, exchange, key, encodeUnit(unit), {
      messageId: unit.unitId,
      timestamp: Math.floor(now / 1000),
    });
  }
}

/**
 * Publishes the next copy of each unit, due `now`, and waits for the confirms; a broker that
 * does not confirm is a BrokerUnavailableError (what retry and release hand back to the store,
 * which then rolls the move back).
 */
export async function publishNextCopies(
  publisher: RabbitPublisher,
  ch: ConfirmChannel,
  units: readonly {
    unitId: string;
    messageId: string;
    domain: string;
    sender: string;
    recipients: string[];
    copy: number;
    attempts: number;
    createdAt: number;
    meta: string | null;
  }[],
  now: number,
  what: string,
): Promise<void> {
  const published = units.map((u) =>
    publisher.publish(ch, {
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
      priority: publisher.level(parseMeta(u.meta)?.priority),
    }, now)
  );
  try {
    await confirmed(published, what);
  } catch (error) {
    throw new BrokerUnavailableError((error as Error).message);
  }
}

/** Waits for the broker's confirms of `published`; rejects after CONFIRM_TIMEOUT_MS. */
export function confirmed(published: Promise<void>[], what: string): Promise<void[]> {
  const ms = CONFIRM_TIMEOUT_MS;
  return withTimeout(Promise.all(published), ms, `no confirm for ${what} within ${ms} ms`);
}
