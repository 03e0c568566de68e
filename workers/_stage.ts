/**
 * A pipeline stage (delivery, SMTP acceptance) talks to the main thread over one port, whatever
 * isolate it runs in: in a Web Worker of its own the port is the worker's `self`; in the main
 * isolate (`delivery.isolate: main`) messages to the stage come through a MessageChannel and its
 * reports go back as they are (cli/stage_endpoint.ts), so the supervisor and the stage exchange
 * the same workers/protocol.ts messages either way; a stage never touches a message it posted
 * again. What belongs to an isolate rather than a stage (heap budget, event-loop sampling, metrics
 * pump, event sink) is started by whoever owns the isolate, once.
 */
import type { Config } from "../core/config/mod.ts";
import type { EventBuffer } from "../core/events/mod.ts";
import type { FromWorker, ToWorker } from "./protocol.ts";

/** The stage's end of its channel. */
export interface StagePort {
  postMessage(message: FromWorker): void;
  onmessage: ((event: MessageEvent<ToWorker>) => unknown) | null;
}

/** What the isolate a stage runs in does for it. */
export interface StageIsolate {
  /**
   * The isolate's event sink (core/events/worker_sink.ts), started on the first call: a worker
   * posts its batches to the main thread's hub; null in the main isolate, whose hub already is
   * the sink. The stage drains it before it says `stopped`.
   */
  startEvents(config: Pick<Config, "events" | "nodeId">): EventBuffer | null;
  /** Posts what this isolate counted since the last pump (a no-op in the main isolate). */
  flushMetrics(): void;
}

/** Starts a stage on `port`: it sets `port.onmessage` at once and answers `init` with `ready`. */
export type Stage = (port: StagePort, isolate: StageIsolate) => void;
