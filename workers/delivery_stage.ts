/**
 * The delivery stage: a thin shell around core/delivery's DeliveryRunner. Owns outbound
 * connection pools, one store connection, its queue (deliver role) and its cluster shaper
 * (cluster-wide limits per site, core/cluster/shaping.ts); receives leased units
 * (with the destinations the dispatcher resolved), reloaded shaping rules and live config from
 * the main thread, and reports which leases were settled. Runs in a delivery worker
 * (workers/delivery_worker.ts) or, with `delivery.isolate: main`, in the main isolate
 * (workers/_stage.ts). Talks to: remote MX hosts, DNS, the store, the queue. Reads config:
 * delivery.*, dns.*, routes, ip_addressess (outbound), rabbitmq, bounce.*, dkim.* (through the
 * bounce and DKIM hooks, given to the runner when it is built).
 */
import { applyLiveSettings, applyManagedParts } from "../core/cluster/live.ts";
import { openShaper } from "../core/cluster/open_shaper.ts";
import type { ClusterShaper } from "../core/cluster/shaping.ts";
import { DeliveryRunner } from "../core/delivery/mod.ts";
import { type DeliverQueue, openQueue } from "../core/queue/mod.ts";
import { openStore, type SqlStore } from "../core/store/mod.ts";
import type { FromWorker, ToWorker } from "./protocol.ts";
import type { StageIsolate, StagePort } from "./_stage.ts";
import { batchedLog } from "./_log.ts";
import { Acceptor } from "../core/accept/mod.ts";
// The files, not the whole folder: it would load mailparser (bounce reports) into every delivery isolate.
import { type BounceStage, startBounceStage } from "../core/bounce/stage.ts";
import { loadTokenKey } from "../core/bounce/tokens.ts";
import { personalizeHook } from "../core/bounce/personalize.ts";
import { dkimSignHook } from "../core/dkim/mod.ts";
import type { EventBuffer } from "../core/events/mod.ts";

/** Serves one delivery engine on `port` (see workers/_stage.ts). */
export function serveDeliveryStage(port: StagePort, isolate: StageIsolate): void {
  let store: SqlStore | null = null;
  let queue: DeliverQueue | null = null;
  let runner: DeliveryRunner | null = null;
  let shaper: ClusterShaper | null = null;
  let bounce: BounceStage | null = null;
  let events: EventBuffer | null = null;
  let stopping = false;
  // Messages that arrive while init is still opening the store wait here, in order.
  let ready: Promise<void> | null = null;
  const post = (message: FromWorker) => port.postMessage(message);

  async function init(message: Extract<ToWorker, { type: "init" }>) {
    const { config } = message;
    const log = (line: string) => post({ type: "log", line });
    events = isolate.startEvents(config);
    // Delivery's statements (body heads, suppressions, settle, slots) go by key: planned once.
    const opened = store = await openStore(config, "deliver", { byKeyOnly: true });
    queue = await openQueue(config, opened, { role: "deliver", log });
    // Slots and send windows held as "<node id>:delivery-<index>/…" in the shared database.
    shaper = openShaper(config, opened, `delivery-${message.index}`, log);
    // [bounce/dkim hooks] suppression screen, DKIM signing, classification, DSNs.
    bounce = startBounceStage({
      config,
      index: message.index,
      store: opened,
      acceptor: new Acceptor(queue, {
        onCommitted: (count) => post({ type: "accepted", count }),
      }),
      log,
    });
    runner = new DeliveryRunner(config, opened, {
      queue,
      shaper,
      dailyCounters: message.dailyCounters,
      rules: message.rules,
      screen: bounce.screen,
      sign: dkimSignHook(config, () => opened.dkimKeys(), log),
      // VERP return paths and List-Unsubscribe, per recipient (bounce.verp, bounce.unsubscribe).
      personalize: personalizeHook(config, await loadTokenKey(opened)),
      settleHooks: bounce.settleHooks,
      onSettled: (count, tokens, requeue, unitIds, dueAt) =>
        post({ type: "settled", count, tokens, requeue, unitIds, dueAt }),
      log,
      logOutcome: batchedLog(post),
    });
  }

  port.onmessage = async (event: MessageEvent<ToWorker>) => {
    const message = event.data;
    if (message.type === "init") {
      ready = init(message);
      try {
        await ready;
        post({ type: "ready" });
      } catch (error) {
        post({ type: "fatal", error: (error as Error).message });
      }
      return;
    }
    await ready;
    if (message.type === "units") {
      if (stopping) return;
      runner?.submit(message.units, message.destinations);
    } else if (message.type === "rules") {
      runner?.setRules(message.rules);
    } else if (message.type === "events-wanted") {
      events?.setWanted(message.types);
    } else if (message.type === "pauses") {
      runner?.setSourcePauses(message.pauses);
    } else if (message.type === "config") {
      if (runner) {
        applyLiveSettings(runner.ctx.config, message.config);
        const parts = applyManagedParts(runner.ctx.config, message.config);
        if (parts.length > 0) runner.reconfigure(parts);
      }
    } else if (message.type === "stop") {
      stopping = true;
      // Finish what is in flight (bounded by the command timeout), settle it, then leave;
      // anything not settled is re-delivered after its lease (at-least-once).
      await runner?.drain(message.drainMs ?? 10_000);
      await bounce?.stop();
      await events?.drain(); // the last events, before "stopped"
      await runner?.close();
      await shaper?.close();
      await queue?.close();
      await store?.close();
      isolate.flushMetrics();
      post({ type: "stopped" });
    }
  };
}
