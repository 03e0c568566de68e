/**
 * One AMQP connection to RabbitMQ that keeps itself up: connects, declares the topology, runs
 * the owner's `setup` (channels, consumers), and after a loss reconnects with exponential
 * backoff (100 ms doubling up to `rabbitmq.reconnect_max`) and runs `setup` again. Each
 * successful connection has a new `generation`; delivery tags and channels of an older
 * generation are dead (the broker has requeued whatever they held unacknowledged).
 *
 * Reads config: rabbitmq.* (host, port, username, password, virtual_host, exchange_name,
 * heartbeat, reconnect_max, queue_type, priorities, delay_tiers), delivery.retry_schedule.
 */
import { metrics } from "../metrics/mod.ts";
import { Buffer } from "node:buffer";
import amqp from "amqplib";
import type { ChannelModel, ConfirmChannel, Options } from "amqplib";
import type { BrokerSettings } from "./settings.ts";

export { type BrokerSettings, brokerSettings, BrokerUnavailableError } from "./settings.ts";

/** What the owner of a link does on each new connection. */
export type LinkSetup = (model: ChannelModel, generation: number) => Promise<void>;

/** Options for {@link BrokerLink}. */
export interface BrokerLinkOptions {
  /** Shown in the broker's connection list. */
  name: string;
  log: (line: string) => void;
  /** Runs after the topology is declared; a failure drops the connection and retries. */
  setup?: LinkSetup;
  /** Called when a connection is lost (not on close()). */
  onDown?: (generation: number) => void;
  /** Whether to declare the topology on connect (default true). */
  declare?: boolean;
}

/** A self-healing connection. */
export class BrokerLink {
  readonly settings: BrokerSettings;
  #options: BrokerLinkOptions;
  #model: ChannelModel | null = null;
  #generation = 0;
  #closed = false;
  #wakeSleep: (() => void) | null = null;
  #loop: Promise<void> | null = null;
  #queueType: "quorum" | "classic" | null = null;

  constructor(settings: BrokerSettings, options: BrokerLinkOptions) {
    this.settings = settings;
    this.#options = options;
  }

  /** Whether a connection is up and set up. */
  get up(): boolean {
    return this.#model !== null;
  }

  /** The current connection's generation (0 before the first one). */
  get generation(): number {
    return this.#generation;
  }

  /** The live connection, or null while reconnecting. */
  get model(): ChannelModel | null {
    return this.#model;
  }

  /**
   * Starts connecting and resolves after the first attempt, successful or not; later attempts
   * continue in the background until close().
   */
  start(): Promise<void> {
    const first = Promise.withResolvers<void>();
    this.#loop = this.#run(() => first.resolve());
    return first.promise;
  }

  async #run(firstAttemptDone: () => void) {
    let delay = 100;
    while (!this.#closed) {
      let model: ChannelModel | null = null;
      try {
        model = await amqp.connect(this.settings.connect, {
          clientProperties: { connection_name: this.#options.name },
        });
        const lost = new Promise<Error | undefined>((resolve) => model!.once("close", resolve));
        model.on("error", () => {}); // reported through "close"
        const generation = ++this.#generation;
        if (this.#options.declare !== false) await this.#declare(model);
        await this.#options.setup?.(model, generation);
        if (this.#closed) break;
        this.#model = model;
        delay = 100;
        firstAttemptDone();
        const error = await lost;
        this.#model = null;
        if (this.#closed) break;
        metrics.inc("fastmta_broker_errors_total");
        this.#options.log(`broker connection lost: ${error?.message ?? "closed"}`);
        this.#options.onDown?.(generation);
      } catch (error) {
        firstAttemptDone();
        metrics.inc("fastmta_broker_errors_total");
        this.#options.log(
          `cannot connect to ${this.settings.address}: ${(error as Error).message}`,
        );
        await model?.close().catch(() => {});
        this.#model = null;
      }
      if (this.#closed) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.#wakeSleep = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wakeSleep = null;
      delay = Math.min(delay * 2, this.settings.reconnectMaxMs);
    }
  }

  async #declare(model: ChannelModel) {
    const { names } = this.settings;
    const version = String(model.connection.serverProperties.version ?? "0");
    const [major, minor] = version.split(".").map(Number);
    const quorumCapable = major > 3 || (major === 3 && minor >= 8);
    const type: "quorum" | "classic" = this.settings.queueType === "classic"
      ? "classic"
      : this.settings.queueType === "quorum" || quorumCapable
      ? "quorum"
      : "classic";
    if (this.settings.queueType === "quorum" && !quorumCapable) {
      throw new Error(`RabbitMQ ${version} has no quorum queues (rabbitmq.queue_type)`);
    }
    if (this.#queueType !== type) {
      this.#options.log(
        `RabbitMQ ${version}: ${type} queues${
          type === "classic" && this.settings.queueType === "auto"
            ? " (this server has no quorum queues)"
            : ""
        }, prefix "${this.settings.prefix}"`,
      );
    }
    this.#queueType = type;
    const base = type === "quorum" ? { "x-queue-type": "quorum" } : {};
    const open = async () => {
      const channel = await model.createChannel();
      channel.on("error", () => {});
      return channel;
    };
    let ch = await open();
    const queue = async (name: string, args: Record<string, unknown> = {}) => {
      try {
        await ch.assertQueue(name, { durable: true, arguments: { ...base, ...args } });
      } catch (error) {
        // Declared before with other arguments (say classic, by an older version): use it as
        // it is rather than refuse to start. The failed declaration closed the channel.
        if (!/PRECONDITION_FAILED/.test((error as Error).message)) throw error;
        this.#options.log(`queue "${name}" exists with other arguments; using it as it is`);
        ch = await open();
        await ch.checkQueue(name);
      }
    };
    try {
      await ch.assertExchange(names.workExchange, "direct", { durable: true });
      for (let level = 0; level < names.workQueues.length; level++) {
        await queue(names.workQueues[level]);
        await ch.bindQueue(names.workQueues[level], names.workExchange, names.workKeys[level]);
      }
      for (const tier of names.delayQueues) {
        await ch.assertExchange(tier.name, "fanout", { durable: true });
        await queue(tier.name, {
          "x-message-ttl": tier.ttlMs,
          "x-dead-letter-exchange": names.workExchange,
          ...(type === "quorum"
            ? { "x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish" }
            : {}),
        });
        await ch.bindQueue(tier.name, tier.name, "");
      }
      await queue(names.injectQueue);
      await ch.assertExchange(names.injectExchange, "direct", { durable: true });
      await ch.bindQueue(names.injectQueue, names.injectExchange, names.injectKey);
      await queue(names.injectDeadQueue);
      await ch.assertExchange(names.configExchange, "fanout", { durable: true });
    } finally {
      await ch.close().catch(() => {});
    }
  }

  /** Drops the current connection (the loop reconnects); for tests and operators. */
  async drop(): Promise<void> {
    await this.#model?.close().catch(() => {});
  }

  /** Closes the connection and stops reconnecting. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#wakeSleep?.();
    const model = this.#model;
    this.#model = null;
    await model?.close().catch(() => {});
    await this.#loop;
  }
}

/** Publishes one persistent message and resolves once the broker confirmed it. */
export function publishConfirmed(
  ch: ConfirmChannel,
  exchange: string,
  routingKey: string,
  content: Uint8Array,
  options: Options.Publish = {},
): Promise<void> {
  return new Promise((resolve, reject) => {
    try {
      ch.publish(
        exchange,
        routingKey,
        Buffer.from(content.buffer, content.byteOffset, content.byteLength),
        { persistent: true, contentType: "application/json", ...options },
        (error: unknown) => error ? reject(asError(error)) : resolve(),
      );
    } catch (error) {
      reject(asError(error));
    }
  });
}

function asError(error: unknown): Error {
  if (error instanceof Error) return error;
  return new Error(typeof error === "string" ? error : "message nacked by the broker");
}

/** Opens a confirm channel whose errors are reported through `close` (never thrown). */
export async function openConfirmChannel(model: ChannelModel): Promise<ConfirmChannel> {
  const ch = await model.createConfirmChannel();
  ch.on("error", () => {});
  return ch;
}
