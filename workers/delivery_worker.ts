/**
 * Delivery worker: owns outbound connection pools and one store connection. Receives leased
 * units from the scheduler, delivers them concurrently, and settles outcomes in batches (one
 * transaction per batch), reporting how many finished so the scheduler can send more.
 * Talks to: remote MX hosts, DNS, the store. Reads config: delivery.*, dns.*, routes,
 * ip_addressess (outbound).
 */
/// <reference lib="deno.worker" />
import type { Config, Vmta } from "../core/config/mod.ts";
import { deliverUnit, type DeliveryContext } from "../core/delivery/deliver_unit.ts";
import { MxResolver } from "../core/delivery/mx.ts";
import { ConnectionPools } from "../core/delivery/pool.ts";
import type { LeasedUnit, UnitOutcome } from "../core/queue/contracts.ts";
import { openStore, type Store, StoreUnavailableError } from "../core/store/mod.ts";
import type { FromWorker, ToWorker } from "./protocol.ts";

let store: Store;
let ctx: DeliveryContext;
let pending: UnitOutcome[] = [];
let settling = false;
let settleScheduled = false;
let active = 0;
let stopping = false;
/** Wait before the next settle while the database is away; 0 when it answers. */
let settleRetryMs = 0;

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
    if (settleRetryMs > 0) {
      post({
        type: "log",
        line: `delivery: settled ${batch.length} held while the database was away`,
      });
      settleRetryMs = 0;
    }
  } catch (error) {
    if (error instanceof StoreUnavailableError && !stopping) {
      // The database is away: keep the outcomes and settle them when it is back, so the units
      // are not delivered a second time. (Nobody can lease them meanwhile: that needs the
      // database too.) If this worker stops first, the leases expire and the units are
      // delivered again: at-least-once, nothing lost.
      if (settleRetryMs === 0) {
        post({
          type: "log",
          line: `delivery: cannot settle ${batch.length}, holding them: ${
            (error as Error).message
          }`,
        });
      }
      pending = batch.concat(pending);
      settleRetryMs = Math.min(Math.max(settleRetryMs * 2, 500), 10_000);
      settling = false;
      settleScheduled = true;
      setTimeout(settle, settleRetryMs);
      return;
    }
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
    pending.push(outcome);
  } catch (error) {
    post({ type: "log", line: `delivery: unit ${unit.unitId}: ${(error as Error).stack}` });
    post({ type: "settled", count: 1 });
  } finally {
    active--;
  }
  scheduleSettle();
}

async function init(config: Config) {
  store = await openStore(config, "deliver");
  const pick = roundRobin(config.vmtas);
  ctx = {
    config,
    resolver: new MxResolver(config),
    pools: new ConnectionPools(config),
    pickVmta: () => pick(),
    readBody: (id) => store.readBody(id),
  };
}

self.onmessage = async (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (message.type === "init") {
    try {
      await init(message.config);
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
    await ctx?.pools.closeAll();
    await store?.close();
    post({ type: "stopped" });
  }
};
