/**
 * Inject worker: consumes the RabbitMQ inject queue (core/inbound/inject.ts) into its own
 * acceptor on one store connection (synchronous=FULL) and its queue (accept role). Started only
 * when `rabbitmq` is configured and `rabbitmq.inject` is true.
 * Talks to: RabbitMQ, the store. Reads config: rabbitmq.*, smtp.hostname, smtp.max_*.
 */
/// <reference lib="deno.worker" />
import { Acceptor } from "../core/accept/mod.ts";
import { applyLiveSettings } from "../core/cluster/live.ts";
import type { Config } from "../core/config/mod.ts";
import { type InjectConsumer, startInjectConsumer } from "../core/inbound/inject.ts";
import { openQueue, type Queue } from "../core/queue/mod.ts";
import { openStore, type SqlStore } from "../core/store/mod.ts";
import type { FromWorker, ToWorker } from "./protocol.ts";

let store: SqlStore | null = null;
let queue: Queue | null = null;
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
      store = await openStore(config, "accept");
      queue = await openQueue(config, store, {
        role: "accept",
        log: (line) => post({ type: "log", line }),
      });
      const acceptor = new Acceptor(queue, {
        commitWindowMs: config.smtp.group_commit_window,
        onCommitted: (count) => post({ type: "accepted", count }),
      });
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
