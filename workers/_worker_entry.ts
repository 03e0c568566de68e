/**
 * Runs one stage as a Web Worker's only stage (the `workers/*_worker.ts` entry points): the
 * worker owns its isolate, so it starts the isolate's heap budget, event-loop sampling and
 * metrics pump here, once.
 */
/// <reference lib="deno.worker" />
import { startHeapBudget } from "../core/heap_budget.ts";
import { sampleThread, startMetricsPump } from "../core/metrics/mod.ts";
import type { FromWorker } from "./protocol.ts";
import type { Stage, StagePort } from "./_stage.ts";

/** Runs `stage` on this worker's `self`. */
export function serveInWorker(stage: Stage): void {
  startHeapBudget();
  sampleThread(self.name);
  const post = (message: FromWorker) => self.postMessage(message);
  const flushMetrics = startMetricsPump((delta) => post({ type: "metrics", delta }));
  const port: StagePort = {
    postMessage: post,
    get onmessage() {
      return self.onmessage as StagePort["onmessage"];
    },
    set onmessage(handler) {
      self.onmessage = handler as typeof self.onmessage;
    },
  };
  stage(port, { own: true, flushMetrics });
}
