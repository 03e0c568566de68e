/** Messages between the main thread and its workers: small (ids, counts, control), never bodies. */
import type { Config } from "../core/config/mod.ts";
import type { LeasedUnit } from "../core/queue/contracts.ts";
import type { SharedLimitsMemory } from "../core/inbound/shared_limits.ts";

/** Shared memory some workers get at init (SharedArrayBuffers, shared, not copied). */
export interface WorkerShared {
  /** Connection and rate counters of the SMTP workers. */
  smtpLimits?: SharedLimitsMemory;
}

/** Main thread → any worker. */
export type ToWorker =
  | { type: "init"; config: Config; index: number; shared?: WorkerShared }
  | { type: "units"; units: LeasedUnit[] }
  | { type: "stop" };

/** Any worker → main thread. */
export type FromWorker =
  | { type: "ready" }
  | { type: "fatal"; error: string }
  | { type: "log"; line: string }
  | { type: "accepted"; count: number }
  | { type: "settled"; count: number }
  | { type: "stopped" };
