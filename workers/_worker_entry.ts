/**
 * Runs stages in a Web Worker (the `workers/*_worker.ts` entry points): the worker owns its
 * isolate, so the isolate's heap budget, event-loop sampling, metrics pump and event sink are
 * started here, once, whatever number of stages it runs.
 */
/// <reference lib="deno.worker" />
import type { Config } from "../core/config/mod.ts";
import { type EventBuffer, startWorkerEvents } from "../core/events/mod.ts";
import { startHeapBudget } from "../core/heap_budget.ts";
import { sampleThread, startMetricsPump } from "../core/metrics/mod.ts";
import type { FromWorker } from "./protocol.ts";
import type { StageIsolate, StagePort } from "./_stage.ts";

/** Starts this worker's isolate services; what the stages it runs get from it. */
export function workerIsolate(): StageIsolate {
  startHeapBudget();
  sampleThread(self.name);
  const post = (message: FromWorker) => self.postMessage(message);
  const flushMetrics = startMetricsPump((delta) => post({ type: "metrics", delta }));
  let events: EventBuffer | null | undefined;
  return {
    flushMetrics,
    startEvents: (config: Pick<Config, "events" | "nodeId">) =>
      events === undefined
        ? events = startWorkerEvents(
          config,
          (batch, dropped) => post({ type: "events", events: batch, dropped }),
        )
        : events,
  };
}

/** The worker's `self` as a stage's port (its only stage). */
export function selfPort(): StagePort {
  return {
    postMessage: (message) => self.postMessage(message),
    get onmessage() {
      return self.onmessage as StagePort["onmessage"];
    },
    set onmessage(handler) {
      self.onmessage = handler as typeof self.onmessage;
    },
  };
}
