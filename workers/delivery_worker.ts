/**
 * Delivery worker: owns outbound connection pools and one store connection. Receives leased
 * units from the scheduler, delivers them concurrently, and settles outcomes in batches (one
 * transaction per batch), reporting how many finished so the scheduler can send more.
 * Talks to: remote MX hosts, DNS, the store. Reads config: delivery.*, dns.*, routes,
 * ip_addressess (outbound), bounce.*, dkim.* (through the bounce and DKIM hooks).
 */
/// <reference lib="deno.worker" />
import type { Config, Vmta } from "../core/config/mod.ts";
import { deliverUnit, type DeliveryContext } from "../core/delivery/deliver_unit.ts";
import { MxResolver } from "../core/delivery/mx.ts";
import { ConnectionPools } from "../core/delivery/pool.ts";
import type { LeasedUnit, UnitOutcome } from "../core/queue/contracts.ts";
import { openStore, type Store } from "../core/store/mod.ts";
import type { FromWorker, ToWorker } from "./protocol.ts";
import { type BounceHooks, createBounceHooks } from "./_bounce_hooks.ts";

let store: Store;
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
    const lost = await store.settle(batch);
    if (lost > 0) {
      post({ type: "log", line: `delivery: ${lost} outcomes arrived after their lease` });
    }
    post({ type: "settled", count: batch.length });
    bounce?.afterSettle(batch); // [bounce hook] suppressions and DSNs, after the outcome is durable
  } catch (error) {
    // Nothing is lost: the leases expire and the units are delivered again (at-least-once).
    post({
      type: "log",
      line: `delivery: cannot settle ${batch.length}: ${(error as Error).message}`,
    });
    post({ type: "settled", count: batch.length });
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
    post({ type: "settled", count: 1 });
  } finally {
    active--;
  }
  scheduleSettle();
}

async function init(config: Config, index: number) {
  store = await openStore(config, "deliver");
  const pick = roundRobin(config.vmtas);
  ctx = {
    config,
    resolver: new MxResolver(config),
    pools: new ConnectionPools(config),
    pickVmta: () => pick(),
    readBody: (id) => store.readBody(id),
  };
  // [bounce/dkim hooks] suppression screen, DKIM signing, classification, DSNs.
  bounce = createBounceHooks(config, index, store, ctx, post);
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
    await store?.close();
    post({ type: "stopped" });
  }
};
