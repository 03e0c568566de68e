/**
 * `serve`: the whole node. Migrates the store, joins the cluster (node row, config overrides),
 * opens the queue, recovers leases from a previous run, starts the delivery workers, the
 * scheduler, the SMTP workers (and the inject worker with RabbitMQ) and the admin HTTP server,
 * and shuts down in order on SIGINT/SIGTERM.
 */
import { startCluster } from "../core/cluster/mod.ts";
import { loadConfig } from "../core/config/mod.ts";
import { log } from "../core/log.ts";
import { openQueue, type Queue } from "../core/queue/mod.ts";
import { Scheduler } from "../core/schedule/mod.ts";
import { openStore } from "../core/store/mod.ts";
import { adminApp } from "../routes/mod.ts";
import { AdminAuth } from "../core/auth/admin.ts";
import { startWorker, type WorkerHandle } from "./supervisor.ts";
import type { LeasedUnit } from "../core/queue/contracts.ts";

/** FNV-1a: spreads domains over delivery workers so one domain's connections share a pool. */
function hashDomain(domain: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < domain.length; i++) {
    h ^= domain.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Runs the server until a signal stops it. */
export async function serve(configPath: string | null): Promise<void> {
  const seed = await loadConfig(configPath);
  await Deno.mkdir(seed.dataDir, { recursive: true });
  const store = await openStore(seed, "deliver");
  const applied = await store.migrate();
  if (applied.length > 0) log("store", `applied migrations: ${applied.join(", ")}`);
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

  const dispatch = (units: LeasedUnit[]) => {
    const perWorker = new Map<number, LeasedUnit[]>();
    for (const unit of units) {
      const index = hashDomain(unit.domain) % deliveryWorkers.length;
      let list = perWorker.get(index);
      if (!list) perWorker.set(index, list = []);
      list.push(unit);
    }
    for (const [index, list] of perWorker) {
      deliveryWorkers[index].post({ type: "units", units: list });
    }
  };
  const scheduler = new Scheduler(queue, config, dispatch, (line) => log("schedule", line));
  queue.onAvailable(() => scheduler.wake());
  Object.assign(running, { queue, scheduler });
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
        (message) => {
          if (message.type === "settled") {
            queue.release(message.tokens, message.requeue ?? false);
            scheduler.settled(message.count);
          }
          if (message.type === "accepted") scheduler.wake(); // DSNs made by the worker
        },
      ),
    );
  }

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
  scheduler.wake();

  const auth = new AdminAuth(store.db);
  const initialPassword = await auth.bootstrap();
  if (initialPassword) {
    log(
      "admin",
      `created console user "admin" with password "${initialPassword}" (shown once; change it with "fastmta admin passwd admin")`,
    );
  }
  const app = adminApp({ config, store, auth, startedAt, cluster });
  const http = Deno.serve({
    hostname: config.admin.host,
    port: config.admin.port,
    onListen: () => {},
  }, app.fetch);

  log(
    "serve",
    `node ${config.nodeId} up: smtp ${
      config.smtp.listeners.map((l) => `${l.host}:${l.port}`).join(", ")
    }, admin http://${config.admin.host}:${config.admin.port}/, store ${config.database.driver}, queue ${queue.kind}`,
  );

  const { promise: stopSignal, resolve: onSignal } = Promise.withResolvers<string>();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => onSignal(signal));
  }
  const signal = await stopSignal;
  log("serve", `${signal}: shutting down`);
  // Stop taking mail first, then stop scheduling, then let deliveries finish and settle.
  await Promise.all([...smtpWorkers, ...otherWorkers].map((w) => w.stop()));
  scheduler.stop();
  await Promise.all(deliveryWorkers.map((w) => w.stop()));
  await http.shutdown();
  await cluster.stop();
  await queue.close();
  await store.close();
  log("serve", "stopped");
  Deno.exit(0);
}
