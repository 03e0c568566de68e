/**
 * A node's parts and its services in start order (cli/service_runner.ts runs them; cli/serve.ts
 * is the command): store, cluster, events, config objects, queue with the scheduler, shaping
 * rules, pauses, leases of a previous run, delivery workers, the scheduler's start, the REST
 * API's accept path and the inbound channels. The pieces live in cli/serve_*.ts by job.
 */
import { type Cluster, startCluster } from "../core/cluster/mod.ts";
import type { Config } from "../core/config/mod.ts";
import { configureLog, log } from "../core/log.ts";
import { announceInitialPassword } from "./observability.ts";
import { nodeReadiness } from "./readiness.ts";
import type { ScheduleQueue } from "../core/queue/mod.ts";
import type { Scheduler } from "../core/schedule/mod.ts";
import { RulesWatcher } from "../core/schedule/rules.ts";
import type { PauseGate } from "../core/schedule/pauses.ts";
import type { MxResolver } from "../core/routing/mx.ts";
import type { SqlStore } from "../core/store/mod.ts";
import type { Management } from "../core/manage/mod.ts";
import type { AppliedChange, LiveView } from "../core/manage/live_view.ts";
import { AdminAuth } from "../core/auth/admin.ts";
import { LazyAcceptPath } from "../core/accept/open.ts";
import { type Service, together } from "./service_runner.ts";
import type { WorkerHandle } from "./supervisor.ts";
import { adminUrl, startLiveView } from "./serve_parts.ts";
import type { EventHub } from "../core/events/mod.ts";
import type { FromWorker } from "../workers/protocol.ts";
import { eventsService } from "./events_service.ts";
import { openNodeQueue, openNodeStore } from "./serve_queue.ts";
import { spoolService } from "./serve_spool.ts";
import {
  startDeliveryWorkers,
  startInjectWorker,
  startSmtpWorkers,
  stopAll,
} from "./serve_workers.ts";
import { nodeAdminHttpService, outboxService } from "./serve_admin.ts";
import type { NodeState } from "./serve_types.ts";

/** The parts of a node, each filled in by the start of its service. */
export class NodeParts implements NodeState {
  readonly seed: Config;
  readonly startedAt = Date.now();
  store!: SqlStore;
  cluster!: Cluster;
  management!: Management;
  live: LiveView | null = null;
  /** The dispatcher's resolver (its cached routes are dropped when routes change). */
  resolver: MxResolver | null = null;
  /** Listeners SMTP workers could not open, by worker index. */
  listenerProblems = new Map<number, string[]>();
  queue!: ScheduleQueue;
  scheduler!: Scheduler;
  rules!: RulesWatcher;
  pauses!: PauseGate;
  apiAccept!: LazyAcceptPath;
  /** The node's event hub (null when `events.enabled` is false). */
  events: EventHub | null = null;
  deliveryWorkers: WorkerHandle[] = [];
  smtpWorkers: WorkerHandle[] = [];
  /** When the stop must be over (epoch ms), once a stop began. */
  stopDeadline = Infinity;
  otherWorkers: WorkerHandle[] = [];

  constructor(seed: Config) {
    this.seed = seed;
  }

  /** The live configuration (the seed plus stored overrides, once the cluster joined). */
  get config(): Config {
    return this.cluster?.config ?? this.seed;
  }

  /** Every worker of the node (for config pushes). */
  get workers(): WorkerHandle[] {
    return [...this.deliveryWorkers, ...this.smtpWorkers, ...this.otherWorkers];
  }

  /**
   * The services in start order; they stop in the reverse order. The scheduler comes after the
   * delivery workers so that no unit is taken before a worker can take it (issue 12), and the
   * leases service returns, once the workers stopped, whatever they did not settle.
   */
  services(): Service[] {
    return [
      {
        name: "store",
        start: async () => {
          this.store = await openNodeStore(this.seed);
        },
        stop: () => this.store.close(),
      },
      spoolService(() => this.store, () => this.seed.database.bodySpoolKeep),
      {
        name: "cluster",
        start: () => this.#joinCluster().then(() => this.#applyLogLevel()),
        stop: () => this.cluster.stop(),
      },
      // Events before every stage that emits them; stopped after them, so their last events
      // (posted by the workers before they stop) are written.
      eventsService(() => this.config, () => this.store, (hub) => {
        this.events = hub;
        // Workers build only the events a writer takes (the hub says which, on each read).
        hub?.onWanted((types) => {
          for (const w of this.workers) w.post({ type: "events-wanted", types });
        });
      }),
      {
        name: "config objects",
        start: () => this.#startLiveView(),
        stop: () => this.live?.stop(),
      },
      { name: "queue", start: () => openNodeQueue(this), stop: () => this.queue.close() },
      { name: "shaping rules", start: () => this.#startRules(), stop: () => this.rules.stop() },
      { name: "pauses", start: () => this.pauses.start(), stop: () => this.pauses.stop() },
      {
        name: "leases",
        start: () => this.#recoverLeases(),
        stop: () => this.scheduler.returnAll(),
      },
      {
        name: "delivery workers",
        start: () => startDeliveryWorkers(this),
        // In-flight deliveries may finish until shortly before the deadline, so that what they
        // settle is written and the rest handed back before the process must exit.
        stop: () =>
          stopAll(
            this.deliveryWorkers,
            Math.max(500, Math.min(this.stopDeadline - Date.now() - 1_500, 3_600_000)),
          ),
      },
      { name: "scheduler", start: () => this.scheduler.start(), stop: () => this.scheduler.stop() },
      {
        name: "API accept path",
        start: () => this.#openApiAccept(),
        stop: () => this.apiAccept.close(),
      },
      // Stop taking mail first, all channels at once (the HTTP server answers the requests it
      // has, so an API send in progress ends with its 202; the outbox claims no more rows and
      // accepts and marks the ones in hand).
      together("inbound channels", [
        {
          name: "SMTP workers",
          start: () => startSmtpWorkers(this),
          stop: () => stopAll(this.smtpWorkers),
        },
        {
          name: "inject worker",
          start: () => startInjectWorker(this),
          stop: () => stopAll(this.otherWorkers),
        },
        outboxService(this),
        nodeAdminHttpService(this),
      ]),
    ];
  }

  async #joinCluster() {
    this.cluster = await startCluster(this.seed, this.store, {
      log: (line) => log("cluster", line),
      // The heartbeat reads the other parts from its first beat on, before they exist.
      details: (configVersion) => ({
        queue: this.queue?.kind ?? "embedded",
        smtp: this.config.smtp.listeners.map((l) => `${l.host}:${l.port}`),
        admin: adminUrl(this.seed),
        configVersion,
        objectsVersion: this.live?.version ?? 0,
        listenerErrors: [...new Set([...this.listenerProblems.values()].flat())],
        inFlight: this.scheduler?.inFlight ?? 0,
        oldestHeldMs: this.scheduler?.watchdog.oldestMs() ?? 0,
        heldTooLong: this.scheduler?.watchdog.reported ?? 0,
      }),
      onConfigChange: (config) => {
        configureLog({ level: config.log.level }); // lines are filtered here, for every thread
        for (const w of this.workers) w.post({ type: "config", config });
        this.scheduler?.wake();
      },
    });
  }

  #applyLogLevel() {
    configureLog({ level: this.config.log.level }); // the stored override, if any
  }

  /** The config objects' live view: seeds, merges into this.config, follows changes. */
  async #startLiveView() {
    ({ management: this.management, live: this.live } = await startLiveView(
      this.store,
      this.cluster,
      (change) => this.#configApplied(change),
    ));
  }

  /** Every stage of this node takes the change: workers, routes, shaping rules, heartbeat. */
  #configApplied(change: AppliedChange) {
    if (change.parts.length > 0) {
      for (const w of this.workers) w.post({ type: "config", config: this.config });
      if (change.parts.includes("routes")) this.resolver?.clear();
    }
    if (change.kinds.includes("shaping_rule")) this.rules?.reload();
    this.scheduler?.wake();
    this.cluster.beat();
  }

  async #startRules() {
    this.rules = new RulesWatcher(
      this.store,
      this.config.delivery.rules_reload_interval,
      (stored) => {
        for (const worker of this.deliveryWorkers) worker.post({ type: "rules", rules: stored });
      },
      (line) => log("shaping", line),
    );
    await this.rules.start();
  }

  async #recoverLeases() {
    const recovered = await this.scheduler.recover();
    if (recovered > 0) {
      log("schedule", `re-queued ${recovered} units left in flight by a previous run`);
    }
  }

  async #openApiAccept() {
    const auth = new AdminAuth(this.store);
    const initialPassword = await auth.bootstrap();
    if (initialPassword) await announceInitialPassword(this.config, initialPassword);
    this.auth = auth;
    // The REST API accepts on this thread, through its own accept path (accept-role store
    // connection, queue, group commit), opened by the first message it is sent; each durable
    // batch wakes the scheduler, as an SMTP worker's "accepted" does.
    this.apiAccept = new LazyAcceptPath(this.config, {
      log: (line) => log("api", line),
      onCommitted: () => this.scheduler.wake(),
    });
  }

  auth!: AdminAuth;

  /** `/readyz`'s checks, on this node's parts as they are when asked. */
  readonly readiness = nodeReadiness(this);

  /** A worker's event batch goes to the hub. */
  workerEvents(message: FromWorker) {
    if (message.type === "events") this.events?.accept(message.events, message.dropped);
  }
}
