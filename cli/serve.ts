/**
 * `serve`: the whole node, as an ordered list of services (cli/service_runner.ts): the store
 * (migrated), the cluster (node row, config overrides), the queue, the shaping rules, the
 * leases of a previous run, the delivery workers, the scheduler (it takes units only from here
 * on, once the workers can handle them), the REST API's accept path and the inbound channels
 * (SMTP workers, inject worker, outbox, admin HTTP server). SIGINT/SIGTERM (or the exit of the
 * `deno task`/npx launcher: cli/launcher_watch.ts) stops them in the reverse order: no more mail
 * taken, no more units taken (the unleased ones go back to the broker), the workers finish and
 * settle, what they left goes back to the queue. The whole stop is bounded by
 * `shutdown_timeout`: deliveries still running near its end are left to their leases (re-queued
 * at the next start) and the process exits.
 */
import { type Cluster, startCluster } from "../core/cluster/mod.ts";
import { type Config, ENV_OVERRIDES, loadConfig } from "../core/config/mod.ts";
import { startHeapBudget } from "../core/heap_budget.ts";
import { configureLog, flushLog, log } from "../core/log.ts";
import { announceInitialPassword, startObservability } from "./observability.ts";
import { collectQueueDepth } from "./queue_depth.ts";
import { nodeReadiness } from "./readiness.ts";
import { openQueue, type ScheduleQueue } from "../core/queue/mod.ts";
import { Scheduler } from "../core/schedule/mod.ts";
import { postIsolated, SiteDispatcher } from "../core/schedule/dispatch.ts";
import { dispatchFailureHandler } from "../core/schedule/unit_failures.ts";
import { faultsBanner } from "../core/fault_points.ts";
import { RulesWatcher } from "../core/schedule/rules.ts";
import { nodePauseGate, type PauseGate } from "../core/schedule/pauses.ts";
// Not core/delivery/mod.ts: the main thread only routes units to sites; the engine (SMTP client,
// pools, MTA-STS, DKIM hooks) lives in the delivery workers and costs ~7 MB of heap per isolate.
import { MxResolver } from "../core/routing/mx.ts";
import { buildPools } from "../core/routing/sources.ts";
import { openStore, type SqlStore } from "../core/store/mod.ts";
import type { Management } from "../core/manage/mod.ts";
import type { AppliedChange, LiveView } from "../core/manage/live_view.ts";
import { QueueService } from "../core/manage/queue_service.ts";
import { AdminAuth } from "../core/auth/admin.ts";
import { LazyAcceptPath } from "../core/accept/open.ts";
import { type Service, ServiceRunner, together } from "./service_runner.ts";
import { startWorker, type WorkerHandle } from "./supervisor.ts";
import { prepareSmtp } from "./smtp_setup.ts";
import {
  adminHttpService,
  adminUrl,
  domainServices,
  seedDailyCounters,
  startLiveView,
} from "./serve_parts.ts";
import { emitQuarantined, type EventHub } from "../core/events/mod.ts";
import { WebhookService } from "../core/manage/webhooks.ts";
import type { FromWorker } from "../workers/protocol.ts";
import { eventsService } from "./events_service.ts";
import { defineCommand } from "./_command.ts";
import { dataDirProblem } from "./data_dir_probe.ts";
import { stopRequested, stopWithin } from "./stop_signal.ts";

/** Runs the server until a signal stops it. */
export async function serve(configPath: string | null): Promise<void> {
  // Signals first: the SMTP port can open (and a client or test react) before start-up ends,
  // and an unhandled SIGHUP would kill the process.
  const stopSignal = stopRequested();
  let reloadRules = () => {};
  // SIGHUP: re-read the stored shaping rules now.
  Deno.addSignalListener("SIGHUP", () => reloadRules());
  startHeapBudget();
  // The server logs on stdout (JSON unless a terminal) from here on; errors before it read the
  // configuration go to stderr as text.
  configureLog({ stream: "stdout" });
  const faults = faultsBanner(); // TEST ONLY: says loudly that test faults are on
  if (faults) log("serve", faults);
  const seed = await loadConfig(configPath);
  startObservability(seed);
  buildPools(seed); // Validates pool references (ConfigError → exit code 2).
  await Deno.mkdir(seed.dataDir, { recursive: true });
  const node = new NodeParts(seed);
  const runner = new ServiceRunner((line) => log("serve", line));
  await runner.start(node.services());
  reloadRules = () => node.rules.reload();
  const { config } = node;
  log(
    "serve",
    `node ${config.nodeId} up: smtp ${
      config.smtp.listeners.map((l) => `${l.host}:${l.port} (${l.mode})`).join(", ")
    } × ${config.smtp.workers} workers, admin ${
      adminUrl(config)
    }, store ${config.database.driver}, queue ${node.queue.kind}`,
  );

  const signal = await stopSignal;
  const timeout = config.shutdownTimeout;
  log("serve", `${signal}: shutting down (within shutdown_timeout, ${timeout} ms)`);
  node.stopDeadline = Date.now() + timeout;
  await stopWithin(timeout, () => runner.stop(), () => node.scheduler?.inFlight ?? 0);
  log("serve", "stopped");
  flushLog();
  Deno.exit(0);
}

/** The parts of a node, each filled in by the start of its service. */
class NodeParts {
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
      { name: "store", start: () => this.#openStore(), stop: () => this.store.close() },
      {
        name: "cluster",
        start: () => this.#joinCluster().then(() => this.#applyLogLevel()),
        stop: () => this.cluster.stop(),
      },
      // Events before every stage that emits them; stopped after them, so their last events
      // (posted by the workers before they stop) are written.
      eventsService(() => this.config, () => this.store, (hub) => this.events = hub),
      {
        name: "config objects",
        start: () => this.#startLiveView(),
        stop: () => this.live?.stop(),
      },
      { name: "queue", start: () => this.#openQueue(), stop: () => this.queue.close() },
      { name: "shaping rules", start: () => this.#startRules(), stop: () => this.rules.stop() },
      { name: "pauses", start: () => this.pauses.start(), stop: () => this.pauses.stop() },
      {
        name: "leases",
        start: () => this.#recoverLeases(),
        stop: () => this.scheduler.returnAll(),
      },
      {
        name: "delivery workers",
        start: () => this.#startDeliveryWorkers(),
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
          start: () => this.#startSmtpWorkers(),
          stop: () => stopAll(this.smtpWorkers),
        },
        {
          name: "inject worker",
          start: () => this.#startInjectWorker(),
          stop: () => stopAll(this.otherWorkers),
        },
        this.#outboxService(),
        this.#adminHttpService(),
      ]),
    ];
  }

  async #openStore() {
    this.store = await openStore(this.seed, "deliver").catch(async (error: Error) => {
      const problem = await dataDirProblem(this.seed.dataDir);
      throw problem ? new Error(`${error.message}: ${problem}`, { cause: error }) : error;
    });
    collectQueueDepth(this.store);
    const applied = await this.store.migrate();
    if (applied.length > 0) log("store", `applied migrations: ${applied.join(", ")}`);
    const maxBody = await this.store.maxBodyBytes();
    if (maxBody !== null && maxBody < this.seed.smtp.max_message_size) {
      log(
        "store",
        `warning: the database stores bodies up to ${maxBody} bytes (max_allowed_packet), ` +
          `smtp.max_message_size is ${this.seed.smtp.max_message_size}: larger messages will ` +
          `be refused with 451; raise max_allowed_packet or lower smtp.max_message_size`,
      );
    }
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

  async #openQueue() {
    const { config } = this;
    this.queue = await openQueue(config, this.store, {
      role: "schedule",
      log: (line) => log("queue", line),
      onQuarantined: emitQuarantined,
    });
    buildPools(config); // Stored overrides may have changed pool settings.
    // Units go to the worker that owns their destination site, so per-site limits hold per
    // node. Handing over goes through the scheduler: what cannot be posted goes back.
    this.resolver = new MxResolver(config);
    const dispatcher = new SiteDispatcher(
      this.resolver,
      () => this.deliveryWorkers.length,
      (index, units, destinations) =>
        this.scheduler.handOver(units, `delivery-${index}`, (mine) => {
          const worker = this.deliveryWorkers[index];
          if (!worker) throw new Error(`there is no delivery worker ${index}`);
          // One unit that cannot be posted fails alone (docs/quarantine.md).
          postIsolated(
            mine,
            destinations,
            (batch, wanted) => worker.post({ type: "units", units: batch, destinations: wanted }),
            failed,
          );
        }),
    );
    const failed = dispatchFailureHandler(
      this.queue,
      (tokens, unitIds) => this.scheduler.settled(tokens, unitIds),
      (line) => log("schedule", line),
    );
    // Takes nothing before its service starts, after the delivery workers.
    this.scheduler = new Scheduler(
      this.queue,
      config,
      (units) => dispatcher.dispatch(units),
      (line) => log("schedule", line),
    );
    this.queue.onAvailable(() => this.scheduler.wake());
    // Stored pauses hold units before any lookup (core/schedule/pauses.ts).
    this.pauses = nodePauseGate(this.store, this.queue, () => this.config, (l) => log("pause", l));
    this.scheduler.usePauses(this.pauses);
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

  async #startDeliveryWorkers() {
    const { config, queue, scheduler, rules } = this;
    const dailyCounters = await seedDailyCounters(config, this.store);
    for (let i = 0; i < config.delivery.workers; i++) {
      const where = `delivery-${i}`;
      this.deliveryWorkers.push(
        await startWorker(
          "delivery",
          new URL("../workers/delivery_worker.ts", import.meta.url),
          config,
          i,
          (message, handle) => {
            this.#workerEvents(message);
            if (message.type === "settled") {
              queue.release(message.tokens, message.requeue ?? false);
              scheduler.settled(message.tokens, message.unitIds);
            }
            // A restarted worker starts from its init message: bring its rules up to date.
            if (message.type === "ready") handle.post({ type: "rules", rules: rules.rules });
            if (message.type === "accepted") scheduler.wake(); // DSNs made by the worker
          },
          { dailyCounters: dailyCounters.buffer, rules: rules.rules },
          // What a crashed worker held will never be settled by it: back to the queue now.
          () =>
            scheduler.giveBack(
              scheduler.watchdog.all().filter((u) => u.where === where),
              `${where} crashed`,
            ),
        ),
      );
    }
  }

  async #openApiAccept() {
    const auth = new AdminAuth(this.store);
    const initialPassword = await auth.bootstrap();
    if (initialPassword) await announceInitialPassword(this.config, initialPassword);
    this.#auth = auth;
    // The REST API accepts on this thread, through its own accept path (accept-role store
    // connection, queue, group commit), opened by the first message it is sent; each durable
    // batch wakes the scheduler, as an SMTP worker's "accepted" does.
    this.apiAccept = new LazyAcceptPath(this.config, {
      log: (line) => log("api", line),
      onCommitted: () => this.scheduler.wake(),
    });
  }

  #auth!: AdminAuth;

  /** `/readyz`'s checks, on this node's parts as they are when asked. */
  #readiness = nodeReadiness(this);

  async #startSmtpWorkers() {
    const { config } = this;
    const smtpShared = await prepareSmtp(config, (line) => log("smtp", line));
    for (let i = 0; i < config.smtp.workers; i++) {
      this.smtpWorkers.push(
        await startWorker(
          "smtp",
          new URL("../workers/smtp_worker.ts", import.meta.url),
          config,
          i,
          (message) => {
            this.#workerEvents(message);
            if (message.type === "accepted") this.scheduler.wake();
            if (message.type === "listeners") {
              this.listenerProblems.set(
                i,
                message.problems.map((p) => `${p.listener}: ${p.error}`),
              );
              this.cluster.beat();
            }
          },
          smtpShared,
        ),
      );
    }
  }

  async #startInjectWorker() {
    if (!this.config.rabbitmq?.inject) return;
    this.otherWorkers.push(
      await startWorker(
        "inject",
        new URL("../workers/inject_worker.ts", import.meta.url),
        this.config,
        0,
        (message) => this.#workerEvents(message),
      ),
    );
  }

  /** The database outbox polls on this thread through its own accept path; loaded only when on. */
  #outboxService(): Service {
    let outbox: { stop(): Promise<void> } | null = null;
    return {
      name: "outbox",
      start: async () => {
        if (!this.config.outbox.enabled) return;
        const { startOutboxPoller } = await import("../core/inbound/outbox.ts");
        outbox = await startOutboxPoller(this.config, {
          log: (line) => log("outbox", line),
          onCommitted: () => this.scheduler.wake(),
        });
      },
      stop: () => outbox?.stop(),
    };
  }

  /** The admin HTTP server (cli/admin_http.ts), on this node's parts once they exist. */
  #adminHttpService(): Service {
    return adminHttpService(async () => ({
      config: this.config,
      store: this.store,
      auth: this.#auth,
      startedAt: this.startedAt,
      cluster: this.cluster,
      accept: this.apiAccept,
      queue: this.queue,
      management: this.management,
      domainServices: domainServices(this.store, this.config),
      queueOps: new QueueService(this.store, this.config, (line) => log("api", line)),
      readiness: this.#readiness,
      // One-click unsubscribe links (bounce.unsubscribe) on the cluster's token key.
      unsubscribe: await (await import("../core/bounce/mod.ts"))
        .openUnsubscribe(this.store, this.config, (line) => log("bounce", line)),
      webhooks: new WebhookService(this.store, this.config),
    }));
  }

  /** A worker's event batch goes to the hub. */
  #workerEvents(message: FromWorker) {
    if (message.type === "events") this.events?.accept(message.events, message.dropped);
  }
}

async function stopAll(workers: WorkerHandle[], graceMs?: number) {
  await Promise.all(workers.map((w) => w.stop(graceMs)));
}

/** The `serve` command (the only one besides `migrate` that applies migrations). */
export const serveCommand = defineCommand({
  name: "serve",
  summary: "Run the server",
  description:
    `Runs the mail server: SMTP acceptance, delivery and the admin HTTP console, until SIGINT or
SIGTERM. Without --config (or FASTMTA_CONFIG) it runs on built-in defaults: SQLite under ./data,
SMTP on 127.0.0.1:2525, admin on http://127.0.0.1:8025/.`,
  options: {},
  database: "migrates",
  epilog: `Environment overrides:
${Object.entries(ENV_OVERRIDES).map(([k, v]) => `  ${k.padEnd(26)} ${v}`).join("\n")}`,
  run: async ({ configPath }) => {
    await serve(configPath);
    return 0;
  },
});
