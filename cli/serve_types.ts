/**
 * What the pieces of `serve` (cli/serve_*.ts) read of a node: its parts as the start of each
 * service fills them in (cli/serve_node.ts's NodeParts has them all).
 */
import type { Cluster } from "../core/cluster/mod.ts";
import type { Config } from "../core/config/mod.ts";
import type { LazyAcceptPath } from "../core/accept/open.ts";
import type { AdminAuth } from "../core/auth/admin.ts";
import type { EventHub } from "../core/events/mod.ts";
import type { Management } from "../core/manage/mod.ts";
import type { MxResolver } from "../core/routing/mx.ts";
import type { ScheduleQueue } from "../core/queue/mod.ts";
import type { Scheduler } from "../core/schedule/mod.ts";
import type { RulesWatcher } from "../core/schedule/rules.ts";
import type { PauseGate } from "../core/schedule/pauses.ts";
import type { SqlStore } from "../core/store/mod.ts";
import type { FromWorker } from "../workers/protocol.ts";
import type { ReadyCheck } from "../core/api/schemas.ts";
import type { WorkerHandle } from "./supervisor.ts";

/** A node's parts, each set once its service started. */
export interface NodeState {
  readonly seed: Config;
  readonly startedAt: number;
  /** The live configuration. */
  readonly config: Config;
  store: SqlStore;
  cluster: Cluster;
  management: Management;
  resolver: MxResolver | null;
  listenerProblems: Map<number, string[]>;
  queue: ScheduleQueue;
  scheduler: Scheduler;
  rules: RulesWatcher;
  pauses: PauseGate;
  apiAccept: LazyAcceptPath;
  auth: AdminAuth;
  events: EventHub | null;
  deliveryWorkers: WorkerHandle[];
  smtpWorkers: WorkerHandle[];
  otherWorkers: WorkerHandle[];
  /** `/readyz`'s checks. */
  readonly readiness: () => Promise<ReadyCheck[]>;
  /** A worker's event batch goes to the hub. */
  workerEvents(message: FromWorker): void;
}
