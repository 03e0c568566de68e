/**
 * Inject worker: consumes the RabbitMQ inject queue (core/inbound/inject.ts) into its own
 * acceptor on one store connection (synchronous=FULL) and its queue (accept role). Started only
 * when `rabbitmq` is configured and `rabbitmq.inject` is true.
 * Talks to: RabbitMQ, the store. Reads config: rabbitmq.*, smtp.hostname, smtp.max_*.
 */
/// <reference lib="deno.worker" />
import { applyLiveSettings } from "../core/cluster/live.ts";
import type { Config } from "../core/config/mod.ts";
import { type InjectConsumer, startInjectConsumer } from "../core/inbound/inject.ts";
import type { AcceptQueue } from "../core/queue/mod.ts";
import type { SqlStore } from "../core/store/mod.ts";
import { openAcceptPath } from "./_accept_path.ts";
import type { FromWorker, ToWorker } from "./protocol.ts";
import { startHeapBudget } from "../core/heap_budget.ts";

startHeapBudget();

let store: SqlStore | null = null;
let queue: AcceptQueue | null = null;
let consumer: InjectConsumer | null = null;
let liveConfig: Config | null = null;

function post(message: FromWorker) {
  self.postMessage(message);
}

self.onmessage = async (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (message.type === "init") {
    try {
      const { config } = message;
      liveConfig = config;
      const accept = await openAcceptPath(config, post);
      ({ store, queue } = accept);
      const acceptor = accept.acceptor;
      consumer = await startInjectConsumer(config, acceptor, (line) => post({ type: "log", line }));
      post({ type: "ready" });
    } catch (error) {
      post({ type: "fatal", error: (error as Error).message });
    }
  } else if (message.type === "config") {
    if (liveConfig) applyLiveSettings(liveConfig, message.config);
  } else if (message.type === "stop") {
    await consumer?.close();
    await queue?.close();
    await store?.close();
    post({ type: "stopped" });
  }
};
