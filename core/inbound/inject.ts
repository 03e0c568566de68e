/**
 * The inject queue: applications publish JSON `InjectMessage`s (core/contracts/mod.ts, README
 * "Inject queue") to `<prefix>.inject` on RabbitMQ. Each is validated, turned into a message
 * (raw as given, or composed from structured fields), and handed to core/accept like any other
 * channel; it is acked only once accept says it is durable (SQL commit + broker confirm). One
 * that cannot be accepted as it is goes to `<prefix>.inject.dead` with the reason in the
 * `x-fastmta-error` header, then is acked. A temporary failure (database or broker) leaves it in
 * the queue to be tried again.
 *
 * Trust: whoever may publish to the queue may send anywhere (no relay check); guard the vhost's
 * permissions. Talks to: RabbitMQ, core/accept. Reads config: rabbitmq.*, smtp.hostname,
 * smtp.max_message_size, smtp.max_recipients, smtp.max_header_size, intake.*.
 */
import type { Channel, ConsumeMessage } from "amqplib";
import type { Config } from "../config/mod.ts";
import type { Acceptor } from "../accept/mod.ts";
import { INJECT_ERROR_HEADER, type NewMessage } from "../contracts/mod.ts";
import {
  BrokerLink,
  brokerSettings,
  openConfirmChannel,
  publishConfirmed,
} from "../queue/broker.ts";
import { injectedMessage, injectLimitsOf, parseInject } from "./inject_format.ts";

/** Unacknowledged inject messages per node (they form the accept batches). */
const INJECT_PREFETCH = 200;
/** Wait before a message that failed for a temporary reason is tried again. */
const RETRY_DELAY_MS = 1_000;

/**
 * The publisher's headers to keep on a dead-lettered message: plain values only. A nested
 * field table would be encoded again by amqplib, recursively; one nested deep enough to make
 * that throw would leave the message unacknowledged for ever.
 */
function flatHeaders(headers: Record<string, unknown> | undefined): Record<string, unknown> {
  const flat: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const type = typeof value;
    if (type === "string" || type === "number" || type === "boolean") flat[name] = value;
  }
  return flat;
}

/** A running inject consumer. */
export interface InjectConsumer {
  close(): Promise<void>;
}

/** Consumes the inject queue into `acceptor` until closed. */
export async function startInjectConsumer(
  config: Config,
  acceptor: Acceptor,
  log: (line: string) => void,
): Promise<InjectConsumer> {
  const settings = brokerSettings(config);
  if (!settings) throw new Error("Cannot consume the inject queue: no rabbitmq configured");
  const { names } = settings;
  const limits = () => injectLimitsOf(config);
  const timers = new Set<ReturnType<typeof setTimeout>>();

  /** Gives a message back to the broker after a pause, to be tried again. */
  const retryLater = (ch: Channel, msg: ConsumeMessage) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      try {
        ch.nack(msg, false, true);
      } catch {
        // The channel is gone: the broker requeued it already.
      }
    }, RETRY_DELAY_MS);
    timers.add(timer);
  };

  const handle = async (
    ch: Channel,
    dead: Awaited<ReturnType<typeof openConfirmChannel>>,
    msg: ConsumeMessage,
  ) => {
    let message: NewMessage | null = null;
    let refusal: string | null = null;
    try {
      const parsed = parseInject(msg.content, limits());
      if (parsed.ok) {
        message = injectedMessage(parsed, {
          hostname: config.smtp.hostname,
          source: { from: `${names.injectQueue} (AMQP)`, protocol: "AMQP" },
          maxSize: config.smtp.max_message_size,
        });
      } else {
        refusal = parsed.reason;
      }
    } catch (error) {
      // Too large once composed, or anything else reading it throws: trying it again would do
      // the same, so it goes where unacceptable messages go rather than be held unacked.
      refusal = (error as Error).message;
    }
    if (message === null) {
      try {
        await publishConfirmed(dead, "", names.injectDeadQueue, msg.content, {
          contentType: msg.properties.contentType ?? "application/json",
          messageId: msg.properties.messageId,
          headers: {
            ...flatHeaders(msg.properties.headers),
            // Bounded: a reason quoting a huge field would overflow AMQP's 64 KiB header table
            // and the dead-letter publish would fail, for ever.
            [INJECT_ERROR_HEADER]: (refusal ?? "cannot be accepted").slice(0, 1_000),
            "x-fastmta-rejected-at": new Date().toISOString(),
          },
        });
        ch.ack(msg);
        log(`inject: dead-lettered a message: ${refusal}`);
      } catch (error) {
        log(`inject: cannot dead-letter a message yet: ${(error as Error).message}`);
        retryLater(ch, msg);
      }
      return;
    }
    try {
      await acceptor.submit(message);
    } catch (error) {
      log(`inject: cannot accept ${message.id} yet: ${(error as Error).message}`);
      retryLater(ch, msg);
      return;
    }
    try {
      ch.ack(msg);
    } catch {
      // The connection broke after accept: the broker delivers it again, and it is accepted
      // twice (at-least-once; the README says how to deduplicate).
    }
  };

  const link = new BrokerLink(settings, {
    name: `fastmta ${config.nodeId} inject`,
    log: (line) => log(`inject: ${line}`),
    setup: async (model) => {
      const ch = await model.createChannel();
      ch.on("error", () => {});
      const dead = await openConfirmChannel(model);
      await ch.prefetch(INJECT_PREFETCH);
      await ch.consume(names.injectQueue, (msg) => {
        if (msg) handle(ch, dead, msg).catch((e) => log(`inject: ${(e as Error).stack}`));
      }, { noAck: false });
    },
  });
  await link.start();
  return {
    async close() {
      for (const timer of timers) clearTimeout(timer);
      await link.close();
    },
  };
}
