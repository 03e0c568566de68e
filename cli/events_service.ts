/**
 * The events part of a node (`serve`): the hub that writes every event of the node (accounting
 * log, webhook outbox, events exchange) and the webhook dispatcher, wired together: each read
 * of the webhooks tells the hub which events to keep for which webhook.
 */
import type { Config } from "../core/config/mod.ts";
import { log } from "../core/log.ts";
import { EventHub, setEventSink, WebhookDispatcher } from "../core/events/mod.ts";
import type { FastmtaEvent } from "../core/events/mod.ts";
import { webhookSecretOpener } from "../core/manage/webhooks.ts";
import type { Store } from "../core/store/mod.ts";
import type { Service } from "./service_runner.ts";

/**
 * The `events` service of `serve`: started before every stage that emits (the main thread's
 * sink is the hub from then on), stopped after them, so the last events the workers post
 * before they stop are written.
 */
export function eventsService(
  config: () => Config,
  store: () => Store,
  onHub: (hub: EventHub | null) => void,
): Service {
  let part: EventsPart | null = null;
  return {
    name: "events",
    start: async () => {
      part = await startEvents(config(), store(), (line) => log("events", line));
      if (!part) return;
      onHub(part.hub);
      setEventSink(part.hub, config().nodeId);
    },
    stop: async () => {
      await part?.stop();
      setEventSink(null);
      onHub(null);
    },
  };
}

/** The running events part. */
export interface EventsPart {
  hub: EventHub;
  stop(): Promise<void>;
}

/** Starts the hub and the dispatcher; null when events are off. */
export async function startEvents(
  config: Config,
  store: Store,
  log: (line: string) => void,
): Promise<EventsPart | null> {
  if (!config.events.enabled) return null;
  const exchange = config.rabbitmq && config.events.accounting.exchange
    // import(): amqplib (~3 MB of heap) is loaded only when events go to a RabbitMQ exchange.
    ? await (await import("../core/events/exchange.ts")).openEventsExchange(
      config,
      config.events.accounting.exchange,
      log,
    )
    : null;
  const hub = new EventHub({
    config,
    store,
    log,
    publish: exchange ? (events: FastmtaEvent[]) => exchange.publish(events) : undefined,
  });
  const dispatcher = new WebhookDispatcher({
    store,
    node: config.nodeId,
    settings: config.events.webhooks,
    openSecret: webhookSecretOpener(config),
    log,
    onList: (webhooks) => hub.setWebhooks(webhooks),
  });
  // The first read routes events before any stage starts emitting.
  hub.setWebhooks(await store.listWebhooks());
  await dispatcher.start();
  return {
    hub,
    stop: async () => {
      await hub.close();
      await dispatcher.stop();
      await exchange?.close();
    },
  };
}
