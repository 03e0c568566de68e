/**
 * SMTP acceptance worker: owns the SMTP listeners, one store connection (synchronous=FULL) and
 * its queue (accept role) for group-committing accepted messages. Reports each durable batch to
 * the main thread so the scheduler wakes up. Talks to: SMTP clients, the store, the queue.
 * Reads config: smtp.*, database, rabbitmq.
 */
/// <reference lib="deno.worker" />
import { Acceptor, relayPolicy } from "../core/accept/mod.ts";
import { type SmtpInbound, startSmtpInbound } from "../core/inbound/smtp.ts";
import { applyLiveSettings } from "../core/cluster/live.ts";
import type { Config } from "../core/config/mod.ts";
import { openQueue, type Queue } from "../core/queue/mod.ts";
import { openStore, type SqlStore } from "../core/store/mod.ts";
import type { FromWorker, ToWorker } from "./protocol.ts";

let store: SqlStore | null = null;
let queue: Queue | null = null;
let liveConfig: Config | null = null;
let inbound: SmtpInbound | null = null;

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
      const policy = relayPolicy(config.smtp.relay_networks, config.smtp.local_domains);
      inbound = await startSmtpInbound(
        config,
        acceptor,
        policy,
        (line) => post({ type: "log", line }),
      );
      post({ type: "ready" });
    } catch (error) {
      post({ type: "fatal", error: (error as Error).message });
    }
  } else if (message.type === "config") {
    if (liveConfig) applyLiveSettings(liveConfig, message.config);
  } else if (message.type === "stop") {
    await inbound?.close();
    await queue?.close();
    await store?.close();
    post({ type: "stopped" });
  }
};
