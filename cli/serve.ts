/**
 * `serve`: the whole node. Migrates the store, recovers leases from a previous run, starts the
 * delivery workers, the scheduler, the SMTP workers and the admin HTTP server, and shuts down in
 * order on SIGINT/SIGTERM.
 */
import { type Config, loadConfig } from "../core/config/mod.ts";
import { log } from "../core/log.ts";
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
  const config: Config = await loadConfig(configPath);
  await Deno.mkdir(config.dataDir, { recursive: true });
  const store = await openStore(config, "deliver");
  const applied = await store.migrate();
  if (applied.length > 0) log("store", `applied migrations: ${applied.join(", ")}`);
  const maxBody = await store.maxBodyBytes();
  if (maxBody !== null && maxBody < config.smtp.max_message_size) {
    log(
      "store",
      `warning: the database stores bodies up to ${maxBody} bytes (max_allowed_packet), ` +
        `smtp.max_message_size is ${config.smtp.max_message_size}: larger messages will be ` +
        `refused with 451; raise max_allowed_packet or lower smtp.max_message_size`,
    );
  }
  const startedAt = Date.now();

  const deliveryWorkers: WorkerHandle[] = [];
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
  const scheduler = new Scheduler(store, config, dispatch, (line) => log("schedule", line));
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
          if (message.type === "settled") scheduler.settled(message.count);
        },
      ),
    );
  }

  const smtpWorkers: WorkerHandle[] = [];
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
  scheduler.wake();

  const auth = new AdminAuth(store.db);
  const initialPassword = await auth.bootstrap();
  if (initialPassword) {
    log(
      "admin",
      `created console user "admin" with password "${initialPassword}" (shown once; change it with "fastmta admin passwd admin")`,
    );
  }
  const app = adminApp({ config, store, auth, startedAt });
  const http = Deno.serve({
    hostname: config.admin.host,
    port: config.admin.port,
    onListen: () => {},
  }, app.fetch);

  log(
    "serve",
    `node ${config.nodeId} up: smtp ${
      config.smtp.listeners.map((l) => `${l.host}:${l.port}`).join(", ")
    }, admin http://${config.admin.host}:${config.admin.port}/, store ${config.database.driver}`,
  );

  const { promise: stopSignal, resolve: onSignal } = Promise.withResolvers<string>();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => onSignal(signal));
  }
  const signal = await stopSignal;
  log("serve", `${signal}: shutting down`);
  // Stop taking mail first, then stop scheduling, then let deliveries finish and settle.
  await Promise.all(smtpWorkers.map((w) => w.stop()));
  scheduler.stop();
  await Promise.all(deliveryWorkers.map((w) => w.stop()));
  await http.shutdown();
  await store.close();
  log("serve", "stopped");
  Deno.exit(0);
}
