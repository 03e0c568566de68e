/**
 * Delivery worker: a Web Worker running one delivery stage (workers/delivery_stage.ts: what it
 * owns, talks to and reads).
 */
/// <reference lib="deno.worker" />
import { selfPort, workerIsolate } from "./_worker_entry.ts";
import { serveDeliveryStage } from "./delivery_stage.ts";

serveDeliveryStage(selfPort(), workerIsolate());
