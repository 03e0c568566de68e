/**
 * Counters any layer may bump. Every thread has its own registry (a module instance per Web
 * Worker); workers post deltas to the main thread once a second (startMetricsPump), the main
 * thread merges them (mergeWorkerMetrics) and serves the sum at GET /metrics. A bump is a Map
 * update: never a postMessage per message on the hot path.
 */
import { METRICS } from "./catalog.ts";
import { type MetricsDelta, Registry } from "./registry.ts";

export { METRICS } from "./catalog.ts";
export type { MetricKind, MetricsDelta, MetricSpec } from "./registry.ts";
export { Registry } from "./registry.ts";

/** This thread's registry. */
export const metrics: Registry = new Registry(METRICS);

/** One recipient's settled result, as settle sees it (plain fields: no contracts here). */
export interface SettledRecipient {
  outcome: "delivered" | "deferred" | "failed" | "suppressed";
  code: number | null;
}

/** The outcome label of a recipient: a failure with a 5xx reply is a bounce. */
export function outcomeLabel(r: SettledRecipient): string {
  if (r.outcome !== "failed") return r.outcome;
  return r.code !== null && r.code >= 500 && r.code < 600 ? "bounced" : "failed";
}

/** The class label of a reply code. */
export function replyClass(code: number | null): string {
  return code === null ? "none" : `${Math.floor(code / 100)}xx`;
}

const started = Date.now();

/**
 * Samples this thread's event-loop lag (how late a 250 ms timer fires, worst per second) and
 * heap; `thread` names it in the labels. Returns a stop function.
 */
export function sampleThread(thread: string): () => void {
  let worst = 0;
  let expected = performance.now() + 250;
  const tick = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - expected);
    expected = now + 250;
  }, 250);
  const publish = setInterval(() => {
    metrics.set("fastmta_event_loop_lag_seconds", { thread }, Math.max(0, worst) / 1000);
    metrics.set("fastmta_heap_used_bytes", { thread }, Deno.memoryUsage().heapUsed);
    worst = 0;
  }, 1000);
  Deno.unrefTimer(tick);
  Deno.unrefTimer(publish);
  return () => {
    clearInterval(tick);
    clearInterval(publish);
  };
}

/** Main thread: gauges of the whole process, read at scrape time. */
export function collectProcessMetrics(): void {
  metrics.onCollect(() => {
    metrics.set("fastmta_process_resident_memory_bytes", {}, Deno.memoryUsage().rss);
    metrics.set("fastmta_uptime_seconds", {}, (Date.now() - started) / 1000);
  });
}

/** Worker: posts this thread's delta every `everyMs` (only when something changed). */
export function startMetricsPump(
  post: (delta: MetricsDelta) => void,
  everyMs = 1000,
): () => void {
  const flush = () => {
    const delta = metrics.takeDelta();
    if (delta) post(delta);
  };
  const timer = setInterval(flush, everyMs);
  Deno.unrefTimer(timer);
  return () => {
    clearInterval(timer);
    flush(); // what a stopping worker counted last still reaches the main thread
  };
}

/** Main thread: adds a worker's delta. */
export function mergeWorkerMetrics(delta: MetricsDelta): void {
  metrics.merge(delta);
}
