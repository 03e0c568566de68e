/**
 * `serve`: the whole node. Migrates the store, joins the cluster (node row, config overrides),
 * opens the queue, recovers leases from a previous run, starts the delivery workers, the
 * scheduler, the SMTP workers (and the inject worker with RabbitMQ) and the admin HTTP server
 * (console, JSON API, REST API sending), and shuts down in order on SIGINT/SIGTERM.
 */
import { startCluster } from "../core/cluster/mod.ts";
import { type Config, loadConfig } from "../core/config/mod.ts";
import { startHeapBudget } from "../core/heap_budget.ts";
import { log } from "../core/log.ts";
import { openQueue, type Queue } from "../core/queue/mod.ts";
import { Scheduler } from "../core/schedule/mod.ts";
import { SiteDispatcher } from "../core/schedule/dispatch.ts";
import { RulesWatcher } from "../core/schedule/rules.ts";
// Not core/delivery/mod.ts: the main thread only routes units to sites; the engine (SMTP client,
// pools, MTA-STS, DKIM hooks) lives in the delivery workers and costs ~7 MB of heap per isolate.
import { MxResolver } from "../core/delivery/mx.ts";
import { buildPools, DailyCounters } from "../core/delivery/sources.ts";
import { openStore, type Store } from "../core/store/mod.ts";
import type { AdminContext } from "../routes/mod.ts";
import { AdminAuth } from "../core/auth/admin.ts";
import { LazyAcceptPath } from "../core/accept/open.ts";
import { startWorker, type WorkerHandle } from "./supervisor.ts";
import { prepareSmtp } from "./smtp_setup.ts";
import { defineCommand } from "./_command.ts";
import { ENV_OVERRIDES } from "../core/config/mod.ts";

/** Today's messages per source IP, from the delivery log (IP warm-up caps survive restarts). */
async function seedDailyCounters(config: Config, store: Store): Promise<DailyCounters> {
  const counters = new DailyCounters(config.vmtas.length);
  const now = Date.now();
  const startOfDay = DailyCounters.nextDay(now) - 86_400_000;
  for (const { sourceIp, count } of await store.deliveredSince(startOfDay)) {
    const index = config.vmtas.findIndex((v) => v.ip === sourceIp);
    if (index >= 0) counters.add(index, count, now);
  }
  return counters;
}

/** Runs the server until a signal stops it. */
export async function serve(configPath: string | null): Promise<void> {
  // Signals first: the SMTP port can open (and a client or test react) before start-up ends,
  // and an unhandled SIGHUP would kill the process.
  const { promise: stopSignal, resolve: onSignal } = Promise.withResolvers<string>();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => onSignal(signal));
  }
  let reloadRules = () => {};
  // SIGHUP: re-read the stored shaping rules now.
  Deno.addSignalListener("SIGHUP", () => reloadRules());
  startHeapBudget();
  const seed = await loadConfig(configPath);
  buildPools(seed); // Validates pool references (ConfigError → exit code 2).
  await Deno.mkdir(seed.dataDir, { recursive: true });
  const store = await openStore(seed, "deliver");
  const applied = await store.migrate();
  if (applied.length > 0) log("store", `applied migrations: ${applied.join(", ")}`);
  const maxBody = await store.maxBodyBytes();
  if (maxBody !== null && maxBody < seed.smtp.max_message_size) {
    log(
      "store",
      `warning: the database stores bodies up to ${maxBody} bytes (max_allowed_packet), ` +
        `smtp.max_message_size is ${seed.smtp.max_message_size}: larger messages will be ` +
        `refused with 451; raise max_allowed_packet or lower smtp.max_message_size`,
    );
  }
  const startedAt = Date.now();

  const deliveryWorkers: WorkerHandle[] = [];
  const smtpWorkers: WorkerHandle[] = [];
  const otherWorkers: WorkerHandle[] = [];
  // Filled in below; the heartbeat reads them from its first beat on.
  const running: { queue?: Queue; scheduler?: Scheduler } = {};
  const cluster = await startCluster(seed, store, {
    log: (line) => log("cluster", line),
    details: (configVersion) => ({
      queue: running.queue?.kind ?? "embedded",
      smtp: seed.smtp.listeners.map((l) => `${l.host}:${l.port}`),
      admin: `http://${seed.admin.host}:${seed.admin.port}/`,
      configVersion,
      inFlight: running.scheduler?.inFlight ?? 0,
    }),
    onConfigChange: (config) => {
      for (const w of [...deliveryWorkers, ...smtpWorkers, ...otherWorkers]) {
        w.post({ type: "config", config });
      }
      running.scheduler?.wake();
    },
  });
  const config = cluster.config;
  const queue = await openQueue(config, store, {
    role: "schedule",
    log: (line) => log("queue", line),
  });

  buildPools(config); // Stored overrides may have changed pool settings.

  // Units go to the worker that owns their destination site, so per-site limits hold per node.
  const dispatcher = new SiteDispatcher(
    new MxResolver(config),
    () => deliveryWorkers.length,
    (index, units, destinations) =>
      deliveryWorkers[index].post({ type: "units", units, destinations }),
  );
  const scheduler = new Scheduler(
    queue,
    config,
    (units) => dispatcher.dispatch(units),
    (line) => log("schedule", line),
  );
  queue.onAvailable(() => scheduler.wake());
  Object.assign(running, { queue, scheduler });
  const rules = new RulesWatcher(
    store,
    config.delivery.rules_reload_interval,
    (stored) => {
      for (const worker of deliveryWorkers) worker.post({ type: "rules", rules: stored });
    },
    (line) => log("shaping", line),
  );
  await rules.start();
  reloadRules = () => rules.reload();
  const dailyCounters = await seedDailyCounters(config, store);
  const recovered = await scheduler.recover();
  if (recovered > 0) {
    log("schedule", `re-queued ${recovered} units left in flight by a previous run`);
  }

  for (let i = 0; i < config.delivery.workers; i++) {
    deliveryWorkers.push(
      await startWorker(
        "delivery",
        new URL("../workers/delivery_worker.ts", import.meta.url),
        config,
        i,
        (message, handle) => {
          if (message.type === "settled") {
            queue.release(message.tokens, message.requeue ?? false);
            scheduler.settled(message.count);
          }
          // A restarted worker starts from its init message: bring its rules up to date.
          if (message.type === "ready") handle.post({ type: "rules", rules: rules.rules });
          if (message.type === "accepted") scheduler.wake(); // DSNs made by the worker
        },
        { dailyCounters: dailyCounters.buffer, rules: rules.rules },
      ),
    );
  }

  const smtpShared = await prepareSmtp(config, (line) => log("smtp", line));
  for (let i = 0; i < config.smtp.workers; i++) {
    smtpWorkers.push(
      await startWorker(
        "smtp",
        new URL("../workers/smtp_worker.ts", import.meta.url),
        config,
        i,
        (message) => {
          if (message.type === "accepted") scheduler.wake();
        },
        smtpShared,
      ),
    );
  }
  if (config.rabbitmq?.inject) {
    otherWorkers.push(
      await startWorker(
        "inject",
        new URL("../workers/inject_worker.ts", import.meta.url),
        config,
        0,
        () => {},
      ),
    );
  }
  // The database outbox polls on this thread through its own accept path; loaded only when on.
  const outbox = config.outbox.enabled
    ? await (await import("../core/inbound/outbox.ts")).startOutboxPoller(config, {
      log: (line) => log("outbox", line),
      onCommitted: () => scheduler.wake(),
    })
    : null;
  scheduler.wake();

  const auth = new AdminAuth(store);
  const initialPassword = await auth.bootstrap();
  if (initialPassword) {
    log(
      "admin",
      `created console user "admin" with password "${initialPassword}" (shown once; change it with "fastmta admin passwd admin")`,
    );
  }
  // The REST API accepts on this thread, through its own accept path (accept-role store
  // connection, queue, group commit), opened by the first message it is sent; each durable
  // batch wakes the scheduler, as an SMTP worker's "accepted" does.
  const apiAccept = new LazyAcceptPath(config, {
    log: (line) => log("api", line),
    onCommitted: () => scheduler.wake(),
  });
  // The console (Hono, Preact, Twind) is loaded on its first request: a node nobody browses
  // keeps ~5 MB less heap, and start-up is shorter.
  const adminContext: AdminContext = {
    config,
    store,
    auth,
    startedAt,
    cluster,
    accept: apiAccept,
  };
  let adminFetch: Promise<Deno.ServeHandler> | null = null;
  const http = Deno.serve({
    hostname: config.admin.host,
    port: config.admin.port,
    onListen: () => {},
  }, async (request, info) => {
    adminFetch ??= import("../routes/mod.ts").then(({ adminApp }) => adminApp(adminContext).fetch);
    return await (await adminFetch)(request, info);
  });

  log(
    "serve",
    `node ${config.nodeId} up: smtp ${
      config.smtp.listeners.map((l) => `${l.host}:${l.port} (${l.mode})`).join(", ")
    } × ${config.smtp.workers} workers, admin http://${config.admin.host}:${config.admin.port}/, store ${config.database.driver}, queue ${queue.kind}`,
  );

  const signal = await stopSignal;
  log("serve", `${signal}: shutting down`);
  // Stop taking mail first (the HTTP server answers the requests it has, so an API send in
  // progress ends with its 202; the outbox claims no more rows and accepts and marks the ones
  // in hand), then stop scheduling, then let deliveries finish and settle.
  await Promise.all([
    ...[...smtpWorkers, ...otherWorkers].map((w) => w.stop()),
    http.shutdown(),
    outbox?.stop(),
  ]);
  await apiAccept.close();
  scheduler.stop();
  rules.stop();
  await Promise.all(deliveryWorkers.map((w) => w.stop()));
  await cluster.stop();
  await queue.close();
  await store.close();
  log("serve", "stopped");
  Deno.exit(0);
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
