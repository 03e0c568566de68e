/**
 * Opening a node's store (migrated, with the body-size warning) and its queue with what takes
 * units from it: the site dispatcher (units go to the delivery worker that owns their site, so
 * per-site limits hold per node), the scheduler and the pause gate. Parts of `serve`.
 */
import type { Config } from "../core/config/mod.ts";
import { log } from "../core/log.ts";
import { openQueue } from "../core/queue/mod.ts";
import { LeaseCredits, leaseCreditsMemory } from "../core/queue/lease_credits.ts";
import { Scheduler } from "../core/schedule/mod.ts";
import { postIsolated, SiteDispatcher } from "../core/schedule/dispatch.ts";
import { dispatchFailureHandler } from "../core/schedule/unit_failures.ts";
import { nodePauseGate, sourcePauses } from "../core/schedule/pauses.ts";
import { emitQuarantined } from "../core/events/mod.ts";
// Not core/delivery/mod.ts: the main thread only routes units to sites; the engine (SMTP client,
// pools, MTA-STS, DKIM hooks) lives in the delivery workers and costs ~7 MB of heap per isolate.
import { MxResolver } from "../core/routing/mx.ts";
import { buildPools } from "../core/routing/sources.ts";
import { openStore, type SqlStore } from "../core/store/mod.ts";
import { collectQueueDepth } from "./queue_depth.ts";
import { dataDirProblem } from "./data_dir_probe.ts";
import type { NodeState } from "./serve_types.ts";

/** The node's store, migrated. */
export async function openNodeStore(seed: Config): Promise<SqlStore> {
  const store = await openStore(seed, "deliver").catch(async (error: Error) => {
    const problem = await dataDirProblem(seed.dataDir);
    throw problem ? new Error(`${error.message}: ${problem}`, { cause: error }) : error;
  });
  collectQueueDepth(store);
  const applied = await store.migrate();
  if (applied.length > 0) log("store", `applied migrations: ${applied.join(", ")}`);
  // Before any thread accepts: segments left open by a process that is gone (core/spool/).
  const recovered = await store.recoverSpool();
  if (recovered && recovered.sealed > 0) {
    log(
      "spool",
      `sealed ${recovered.sealed} segments left open, cut ${recovered.truncatedBytes} ` +
        `unindexed bytes`,
    );
  }
  if (recovered?.live) log("spool", `${recovered.live} segments in use by another process kept`);
  const maxBody = await store.maxBodyBytes();
  if (maxBody !== null && maxBody < seed.smtp.max_message_size) {
    log(
      "store",
      `warning: the database stores bodies up to ${maxBody} bytes (max_allowed_packet), ` +
        `smtp.max_message_size is ${seed.smtp.max_message_size}: larger messages will ` +
        `be refused with 451; raise max_allowed_packet or lower smtp.max_message_size`,
    );
  }
  return store;
}

/** Opens the schedule queue and sets the node's queue, resolver, scheduler and pauses. */
export async function openNodeQueue(node: NodeState): Promise<void> {
  const { config } = node;
  node.queue = await openQueue(config, node.store, {
    role: "schedule",
    log: (line) => log("queue", line),
    onQuarantined: emitQuarantined,
  });
  buildPools(config); // Stored overrides may have changed pool settings.
  // Units go to the worker that owns their destination site, so per-site limits hold per
  // node. Handing over goes through the scheduler: what cannot be posted goes back.
  node.resolver = new MxResolver(config);
  const dispatcher = new SiteDispatcher(
    node.resolver,
    () => node.deliveryWorkers.length,
    (index, units, destinations) =>
      node.scheduler.handOver(units, `delivery-${index}`, (mine) => {
        const worker = node.deliveryWorkers[index];
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
    node.queue,
    (tokens, unitIds) => node.scheduler.settled(tokens, unitIds),
    (line) => log("schedule", line),
  );
  // Takes nothing before its service starts, after the delivery workers.
  node.scheduler = new Scheduler(
    node.queue,
    config,
    (units) => dispatcher.dispatch(units),
    (line) => log("schedule", line),
  );
  node.queue.onAvailable(() => node.scheduler.wake());
  // The SMTP workers insert units already leased while the scheduler lends them room.
  if (config.queue.lease_at_accept && node.queue.leasesAtAccept) {
    node.scheduler.useAcceptLeases(new LeaseCredits(leaseCreditsMemory(config.smtp.workers)));
  }
  // Stored pauses hold units before any lookup (core/schedule/pauses.ts).
  // The vmta pauses go to the delivery workers, whose pools skip those sources.
  node.pauses = nodePauseGate(
    node.store,
    node.queue,
    () => node.config,
    (l) => log("pause", l),
    (pauses) => {
      for (const w of node.deliveryWorkers) {
        w.post({ type: "pauses", pauses: sourcePauses(pauses) });
      }
    },
  );
  node.scheduler.usePauses(node.pauses);
  // A config event (a pause changed on any node or the CLI) re-reads them at once.
  node.cluster.configSync.onReload(() => void node.pauses.reload());
}
