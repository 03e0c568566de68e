/**
 * Delivery worker: owns outbound connection pools, one store connection and its queue (deliver
 * role). Receives leased units from the scheduler, delivers them concurrently, and settles
 * outcomes in batches (one queue settle per batch), reporting which leases finished so the
 * scheduler can release them and send more.
 * Talks to: remote MX hosts, DNS, the store, the queue. Reads config: delivery.*, dns.*,
 * routes, ip_addressess (outbound), rabbitmq, bounce.*, dkim.* (through the bounce and DKIM
 * hooks).
 */
/// <reference lib="deno.worker" />
import type { Config, Vmta } from "../core/config/mod.ts";
import { deliverUnit, type DeliveryContext } from "../core/delivery/deliver_unit.ts";
import { MxResolver } from "../core/delivery/mx.ts";
import { ConnectionPools } from "../core/delivery/pool.ts";
import type { LeasedUnit, UnitOutcome } from "../core/queue/contracts.ts";
import { openQueue, type Queue } from "../core/queue/mod.ts";
import { applyLiveSettings } from "../core/cluster/live.ts";
import { openStore, type SqlStore } from "../core/store/mod.ts";
import type { FromWorker, ToWorker } from "./protocol.ts";
import { type BounceHooks, createBounceHooks } from "./_bounce_hooks.ts";

let store: SqlStore;
let queue: Queue;
let ctx: DeliveryContext;
let pending: UnitOutcome[] = [];
let settling = false;
let settleScheduled = false;
let active = 0;
let stopping = false;
let bounce: BounceHooks | null = null;

function post(message: FromWorker) {
  self.postMessage(message);
}

function roundRobin(vmtas: Vmta[]): () => Vmta | null {
  let next = 0;
  return () => vmtas.length === 0 ? null : vmtas[next++ % vmtas.length];
}

function scheduleSettle() {
  if (settleScheduled || settling) return;
  settleScheduled = true;
  setTimeout(settle, 0);
}

async function settle() {
  settleScheduled = false;
  if (pending.length === 0) return;
  settling = true;
  const batch = pending;
  pending = [];
  try {
    const lost = await queue.settle(batch);
    if (lost > 0) {
      post({ type: "log", line: `delivery: ${lost} outcomes arrived after their lease` });
    }
    post({ type: "settled", count: batch.length, tokens: batch.map((o) => o.leaseToken) });
    bounce?.afterSettle(batch); // [bounce hook] suppressions and DSNs, after the outcome is durable
  } catch (error) {
    // Nothing is lost: the leases go back and the units are delivered again (at-least-once).
    post({
      type: "log",
      line: `delivery: cannot settle ${batch.length}: ${(error as Error).message}`,
    });
    post({
      type: "settled",
      count: batch.length,
      tokens: batch.map((o) => o.leaseToken),
      requeue: true,
    });
  } finally {
    settling = false;
  }
  if (pending.length > 0) scheduleSettle();
}

async function deliver(unit: LeasedUnit) {
  active++;
  try {
    // Await first: `pending.push(await …)` would capture the array a settle already took.
    const outcome = await deliverUnit(ctx, unit);
    pending.push(bounce ? bounce.classify(outcome) : outcome); // [bounce hook] categories
  } catch (error) {
    post({ type: "log", line: `delivery: unit ${unit.unitId}: ${(error as Error).stack}` });
    post({ type: "settled", count: 1, tokens: [unit.leaseToken], requeue: true });
  } finally {
    active--;
  }
  scheduleSettle();
}

async function init(config: Config, index: number) {
  store = await openStore(config, "deliver");
  queue = await openQueue(config, store, {
    role: "deliver",
    log: (line) => post({ type: "log", line }),
  });
  const pick = roundRobin(config.vmtas);
  ctx = {
    config,
    resolver: new MxResolver(config),
    pools: new ConnectionPools(config),
    pickVmta: () => pick(),
    readBody: (id) => store.readBody(id),
  };
  // [bounce/dkim hooks] suppression screen, DKIM signing, classification, DSNs.
  bounce = createBounceHooks(config, index, store, queue, ctx, post);
}

self.onmessage = async (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (message.type === "init") {
    try {
      await init(message.config, message.index);
      post({ type: "ready" });
    } catch (error) {
      post({ type: "fatal", error: (error as Error).message });
    }
  } else if (message.type === "config") {
    if (ctx) applyLiveSettings(ctx.config, message.config);
  } else if (message.type === "units") {
    if (stopping) return;
    for (const unit of message.units) deliver(unit);
  } else if (message.type === "stop") {
    stopping = true;
    // Finish what is in flight (bounded by the command timeout), settle it, then leave;
    // anything not settled is re-delivered after its lease (at-least-once).
    const deadline = Date.now() + 10_000;
    while ((active > 0 || pending.length > 0 || settling) && Date.now() < deadline) {
      if (pending.length > 0 && !settling) await settle();
      else await new Promise((r) => setTimeout(r, 10));
    }
    await bounce?.stop();
    await ctx?.pools.closeAll();
    await queue?.close();
    await store?.close();
    post({ type: "stopped" });
  }
};
