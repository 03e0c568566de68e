/**
 * The lifecycle every accepting worker shares (SMTP, inject): on `init` open the accept path
 * (core/accept/open.ts: store, queue in its accept role, acceptor) reporting to the main thread,
 * start the worker's channel on it and say `ready` (or `fatal`); on `config` apply the live
 * settings and the managed parts (the channel rebuilds what depends on them); on `stop` close the channel, then the queue, then the store, and say `stopped`.
 */
/// <reference lib="deno.worker" />
import { type AcceptPath, openAcceptPath } from "../core/accept/open.ts";
import { applyLiveSettings, applyManagedParts } from "../core/cluster/live.ts";
import type { Config } from "../core/config/mod.ts";
import { startHeapBudget } from "../core/heap_budget.ts";
import { sampleThread, startMetricsPump } from "../core/metrics/mod.ts";
import type { FromWorker, ToWorker } from "./protocol.ts";
import { type EventBuffer, startWorkerEvents } from "../core/events/mod.ts";

/** The `init` message a worker starts from. */
export type InitMessage = Extract<ToWorker, { type: "init" }>;

/** What a worker's channel gives back once started: a way to stop taking mail. */
export interface AcceptChannel {
  close(): Promise<void>;
  /** The managed parts of the config changed in place (e.g. "smtp.listeners"). */
  reconfigure?(parts: string[]): Promise<void>;
}

/** Sends a message to the main thread. */
export function post(message: FromWorker): void {
  self.postMessage(message);
}

/**
 * Runs this worker: `startChannel` starts taking mail into `accept.acceptor` (its store, for
 * lookups such as SMTP users, is `accept.store`). The heap budget starts at once.
 */
export function serveAcceptWorker(
  startChannel: (init: InitMessage, accept: AcceptPath) => Promise<AcceptChannel>,
): void {
  startHeapBudget();
  sampleThread(self.name);
  const flushMetrics = startMetricsPump((delta) => post({ type: "metrics", delta }));
  let accept: AcceptPath | null = null;
  let channel: AcceptChannel | null = null;
  let liveConfig: Config | null = null;
  let events: EventBuffer | null = null;
  self.onmessage = async (event: MessageEvent<ToWorker>) => {
    const message = event.data;
    if (message.type === "init") {
      try {
        liveConfig = message.config;
        events = startWorkerEvents(
          message.config,
          (batch, dropped) => post({ type: "events", events: batch, dropped }),
        );
        accept = await openAcceptPath(message.config, {
          log: (line) => post({ type: "log", line }),
          onCommitted: (count) => post({ type: "accepted", count }),
        });
        channel = await startChannel(message, accept);
        post({ type: "ready" });
      } catch (error) {
        post({ type: "fatal", error: (error as Error).message });
      }
    } else if (message.type === "config") {
      if (liveConfig) {
        applyLiveSettings(liveConfig, message.config);
        const parts = applyManagedParts(liveConfig, message.config);
        if (parts.length > 0) await channel?.reconfigure?.(parts);
      }
    } else if (message.type === "stop") {
      await channel?.close();
      await events?.drain(); // the last events, before "stopped"
      await accept?.queue.close();
      await accept?.store.close();
      flushMetrics();
      post({ type: "stopped" });
    }
  };
}
