/** Messages between the main thread and its workers: small (ids, counts, control), never bodies. */
import type { SourcePause } from "../core/routing/source_pauses.ts";
import type { Config } from "../core/config/mod.ts";
import type { LeasedUnit } from "../core/contracts/mod.ts";
import type { EventType, FastmtaEvent } from "../core/contracts/events.ts";
import type { Destination } from "../core/routing/mx.ts";
import type { CheckedRule } from "../core/routing/policy.ts";
import type { SharedLimitsMemory } from "../core/inbound/shared_limits.ts";
import type { LogFields, LogLevel } from "../core/log.ts";
import type { MetricsDelta } from "../core/metrics/mod.ts";

/** Main thread → any worker. */
export type ToWorker =
  | {
    type: "init";
    config: Config;
    index: number;
    /** Delivery workers: per-source-IP daily counts shared by the node (IP warm-up). */
    dailyCounters?: SharedArrayBuffer;
    /** Delivery workers: the stored shaping rules at start. */
    rules?: CheckedRule[];
    /** SMTP workers: connection and rate counters shared by all SMTP workers of the node. */
    smtpLimits?: SharedLimitsMemory;
    /** SMTP workers: the scheduler's lease credits (core/queue/lease_credits.ts), if it lends. */
    leaseCredits?: SharedArrayBuffer;
    /** SMTP workers: names this node process in lease tokens (core/accept/open.ts). */
    leaseRun?: string;
    /** How many times this worker slot was started before (0 for the first start). */
    generation?: number;
  }
  | {
    type: "units";
    units: LeasedUnit[];
    /** Delivery workers: each unit's destination, by domain, as the dispatcher resolved it. */
    destinations?: Record<string, Destination>;
  }
  | { type: "rules"; rules: CheckedRule[] }
  /** Delivery workers: the vmta pauses in force (core/routing/source_pauses.ts), on each change. */
  | { type: "pauses"; pauses: SourcePause[] }
  /** The event types a writer of the main thread's hub takes (null: all): build no others. */
  | { type: "events-wanted"; types: EventType[] | null }
  /** The live configuration changed (core/cluster/config_sync.ts); apply the live settings. */
  | { type: "config"; config: Config }
  /** Finish in-flight work within `drainMs` (default 10 s), settle it, then report "stopped". */
  | { type: "stop"; drainMs?: number };

/** Any worker → main thread. */
export type FromWorker =
  | { type: "ready" }
  | { type: "fatal"; error: string }
  /** A log line; `level` and `fields` (e.g. queue_id) when the caller gave them. */
  | { type: "log"; line: string; level?: LogLevel; fields?: LogFields }
  /** Log lines gathered over one tick (delivery outcomes: one post for many lines). */
  | { type: "logs"; records: { line: string; level: LogLevel; fields?: LogFields }[] }
  /** What this worker's counters did in the last second (core/metrics). */
  | { type: "metrics"; delta: MetricsDelta }
  /**
   * A durable batch of `count` messages; `leased`: its units leased at accept, for the scheduler
   * to dispatch; `allLeased`: none of its units waits in the queue (no scheduling pass needed).
   */
  | { type: "accepted"; count: number; leased?: LeasedUnit[]; allLeased?: boolean }
  /** One flush of the worker's event buffer (core/events), and how many it dropped since the last. */
  | { type: "events"; events: FastmtaEvent[]; dropped: number }
  /**
   * Units finished: `tokens` are their leases, to release on the leasing side (`requeue`: not
   * settled, due again now); `unitIds` name the units (parallel to `tokens`); `dueAt`: the
   * earliest time one of them is due again (a retry or a hold's end), if any is.
   */
  | {
    type: "settled";
    count: number;
    tokens: string[];
    requeue?: boolean;
    unitIds?: string[];
    dueAt?: number;
  }
  /** SMTP workers, after applying changed listeners: those that could not be opened. */
  | { type: "listeners"; problems: { listener: string; error: string }[] }
  | { type: "stopped" };
