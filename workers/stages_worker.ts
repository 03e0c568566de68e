/**
 * Stages worker: one Web Worker running several stages (`delivery.isolate: smtp` puts the
 * delivery engines next to the first SMTP stage), each on a MessagePort the main thread sends
 * with `{ stage }` (cli/stage_host.ts). The isolate's services (heap budget, sampling, metrics,
 * event sink) start once for all of them (workers/_worker_entry.ts).
 */
/// <reference lib="deno.worker" />
import { workerIsolate } from "./_worker_entry.ts";
import { serveDeliveryStage } from "./delivery_stage.ts";
import { smtpStage } from "./smtp_stage.ts";
import type { Stage, StagePort } from "./_stage.ts";

/** The stages this worker can run, by the name the main thread sends. */
const STAGES: Record<string, Stage> = { delivery: serveDeliveryStage, smtp: smtpStage };

const isolate = workerIsolate();

self.onmessage = (event: MessageEvent<{ stage: string }>) => {
  const [port] = event.ports;
  const stage = STAGES[event.data.stage];
  if (!port || !stage) throw new Error(`Cannot run stage "${event.data.stage}" here`);
  stage(port as unknown as StagePort, isolate);
};
