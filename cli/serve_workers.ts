/**
 * A node's workers: delivery (units in, outcomes settled), SMTP (accepted mail wakes the
 * scheduler; listeners they could not open go to the heartbeat) and the inject worker. Parts of
 * `serve`.
 */
import { leaseTokenPrefix } from "../core/accept/open.ts";
import { log } from "../core/log.ts";
import { sourcePauses } from "../core/schedule/pauses.ts";
import { prepareSmtp } from "./smtp_setup.ts";
import { seedDailyCounters } from "./serve_parts.ts";
import { StageHost } from "./stage_host.ts";
import { exitOnUncaughtError } from "./stage_endpoint.ts";
import { type StagePlacement, startWorker, type WorkerHandle } from "./supervisor.ts";
import type { NodeState } from "./serve_types.ts";

/**
 * Where delivery engines run (`delivery.isolate`): the main isolate (`main`, the default, whose
 * stage module is loaded only then), a Web Worker each (`worker`) or the worker of SMTP stage 0
 * (`smtp`); `main` and `smtp` save an isolate (docs/performance.md, Memory).
 */
async function deliveryPlacement(node: NodeState): Promise<StagePlacement> {
  const isolate = node.config.delivery.isolate;
  if (isolate === "smtp") return { host: stageHost(node), stage: "delivery" };
  if (isolate === "main") {
    exitOnUncaughtError();
    return { inProcess: (await import("../workers/delivery_stage.ts")).serveDeliveryStage };
  }
  return new URL("../workers/delivery_worker.ts", import.meta.url);
}

/** `delivery.isolate: smtp`: the worker that runs the delivery engines and SMTP stage 0. */
const hosts = new WeakMap<NodeState, StageHost>();

function stageHost(node: NodeState): StageHost {
  let host = hosts.get(node);
  if (!host) hosts.set(node, host = new StageHost("smtp+delivery", (m) => node.workerEvents(m)));
  return host;
}

/** Starts `delivery.workers` delivery engines where `delivery.isolate` says. */
export async function startDeliveryWorkers(node: NodeState): Promise<void> {
  const { config, queue, scheduler, rules } = node;
  const dailyCounters = await seedDailyCounters(config, node.store);
  const placement = await deliveryPlacement(node);
  for (let i = 0; i < config.delivery.workers; i++) {
    const where = `delivery-${i}`;
    node.deliveryWorkers.push(
      await startWorker(
        "delivery",
        placement,
        config,
        i,
        (message, handle) => {
          node.workerEvents(message);
          if (message.type === "settled") {
            if (message.requeue && message.unitIds && queue.kind === "embedded") {
              // The embedded queue keeps an unsettled lease until it is returned, else until it
              // ends (queue.lease_time): return it now (retried if the database is away).
              const { tokens, unitIds } = message;
              const units = unitIds.map((unitId, i) => ({ unitId, leaseToken: tokens[i] }));
              scheduler.giveBack(units, "not settled by the worker");
            }
            queue.release(message.tokens, message.requeue ?? false);
            scheduler.settled(message.tokens, message.unitIds, message.dueAt);
          }
          // A restarted worker starts from its init message: bring its rules up to date.
          if (message.type === "ready") {
            handle.post({ type: "rules", rules: rules.rules });
            handle.post({ type: "pauses", pauses: sourcePauses(node.pauses.pauses) });
          }
          if (message.type === "accepted") scheduler.wakeForDue(); // DSNs made by the worker
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

const SMTP_WORKER = new URL("../workers/smtp_worker.ts", import.meta.url);

/**
 * Where the first SMTP stage runs: a Web Worker (`smtp.isolate: worker`), the main isolate
 * (`smtp.isolate: main`, one isolate less; its module is loaded only then) or the worker that
 * also runs delivery (`delivery.isolate: smtp`). The other SMTP stages always get a worker.
 */
async function firstSmtpPlacement(node: NodeState): Promise<StagePlacement> {
  if (node.config.delivery.isolate === "smtp") return { host: stageHost(node), stage: "smtp" };
  if (node.config.smtp.isolate === "main") {
    exitOnUncaughtError();
    return { inProcess: (await import("../workers/smtp_stage.ts")).smtpStage };
  }
  return SMTP_WORKER;
}

/** Starts `smtp.workers` SMTP workers. */
export async function startSmtpWorkers(node: NodeState): Promise<void> {
  const { config } = node;
  const smtpShared = await prepareSmtp(config, (line) => log("smtp", line));
  const credits = node.scheduler.leaseCredits;
  // Names this process in lease tokens; with the slot and its restarts, one worker's run.
  const leaseRun = crypto.randomUUID().slice(0, 8);
  for (let i = 0; i < config.smtp.workers; i++) {
    let crashes = 0;
    node.smtpWorkers.push(
      await startWorker(
        "smtp",
        i === 0 ? await firstSmtpPlacement(node) : SMTP_WORKER,
        config,
        i,
        (message) => {
          node.workerEvents(message);
          // The restarted worker is up: whatever its predecessor's last commit left leased
          // (it may have landed after the first return) goes back too.
          if (message.type === "ready" && crashes > 0 && credits) {
            node.scheduler.releaseAcceptLeases(
              leaseTokenPrefix(leaseRun, i, crashes - 1),
              `smtp-${i} restarted`,
            );
          }
          if (message.type === "accepted") {
            // Units leased at accept go straight to dispatch; a pass only for the others.
            if (message.leased) node.scheduler.adopt(message.leased, i);
            if (!message.allLeased) node.scheduler.wake();
          }
          if (message.type === "listeners") {
            node.listenerProblems.set(
              i,
              message.problems.map((p) => `${p.listener}: ${p.error}`),
            );
            node.cluster.beat();
          }
        },
        { ...smtpShared, ...(credits ? { leaseCredits: credits.memory, leaseRun } : {}) },
        // Whatever it had in transit will not arrive, and what it committed leased but did not
        // report is nobody's: back to the queue now (kill -9 of the node: at the next start).
        () => {
          if (!credits) return;
          credits.forget(i);
          const run = leaseTokenPrefix(leaseRun, i, crashes++);
          node.scheduler.releaseAcceptLeases(run, `smtp-${i} crashed`);
        },
      ),
    );
  }
}

/** Starts the inject worker when `rabbitmq.inject` is on. */
export async function startInjectWorker(node: NodeState): Promise<void> {
  if (!node.config.rabbitmq?.inject) return;
  node.otherWorkers.push(
    await startWorker(
      "inject",
      new URL("../workers/inject_worker.ts", import.meta.url),
      node.config,
      0,
      (message) => node.workerEvents(message),
    ),
  );
}

/** Stops `workers` (each given `graceMs` to finish what it has). */
export async function stopAll(workers: WorkerHandle[], graceMs?: number): Promise<void> {
  await Promise.all(workers.map((w) => w.stop(graceMs)));
}
