/**
 * The events exchange (distributed mode, `events.accounting.exchange`): every event published
 * as one persistent JSON message to a durable topic exchange, routing key = the event type
 * (`delivered`, `bounced`, …), for consumers that bind their own queues. A batch waits for the
 * broker's confirms once; while the broker is away batches are dropped (and logged): the
 * accounting file and the webhook outbox still have every event.
 *
 * Talks to: RabbitMQ. Reads config: rabbitmq.*, events.accounting.exchange.
 */
import type { ConfirmChannel } from "amqplib";
import type { Config } from "../config/mod.ts";
import type { FastmtaEvent } from "../contracts/events.ts";
import {
  BrokerLink,
  brokerSettings,
  openConfirmChannel,
  publishConfirmed,
} from "../queue/broker.ts";

const encoder = new TextEncoder();

/** A publisher to the events exchange. */
export interface EventsExchange {
  publish(events: readonly FastmtaEvent[]): Promise<void>;
  close(): Promise<void>;
}

/** Connects (in the background when the broker is away) and declares the exchange. */
export async function openEventsExchange(
  config: Config,
  exchange: string,
  log: (line: string) => void,
): Promise<EventsExchange> {
  const settings = brokerSettings(config);
  if (!settings) throw new Error("events.accounting.exchange needs the rabbitmq section");
  let channel: ConfirmChannel | null = null;
  const link = new BrokerLink(settings, {
    name: `${config.nodeId} events`,
    log: (line) => log(`events exchange: ${line}`),
    declare: false,
    setup: async (model) => {
      const ch = await openConfirmChannel(model);
      await ch.assertExchange(exchange, "topic", { durable: true });
      channel = ch;
    },
    onDown: () => channel = null,
  });
  await link.start();
  return {
    publish: async (events) => {
      const ch = channel;
      if (!ch) throw new Error("the broker is away");
      await Promise.all(
        events.map((e) =>
          publishConfirmed(ch, exchange, e.type, encoder.encode(JSON.stringify(e)))
        ),
      );
    },
    close: () => link.close(),
  };
}
