/**
 * Delivery worker: a thin entry point around core/delivery's DeliveryRunner. Owns outbound
 * connection pools and one store connection; receives leased units (with the destinations the
 * dispatcher resolved) and reloaded shaping rules from the main thread, and reports settled
 * counts. Talks to: remote MX hosts, DNS, the store. Reads config: delivery.*, dns.*, routes,
 * ip_addressess (outbound), bounce.*, dkim.* (through the bounce and DKIM hooks).
 */
/// <reference lib="deno.worker" />
import { DeliveryRunner } from "../core/delivery/mod.ts";
import { openStore, type Store } from "../core/store/mod.ts";
import type { FromWorker, ToWorker } from "./protocol.ts";
import { type BounceHooks, createBounceHooks } from "./_bounce_hooks.ts";

let store: Store | null = null;
let runner: DeliveryRunner | null = null;
let bounce: BounceHooks | null = null;
let stopping = false;
// Messages that arrive while init is still opening the store wait here, in order.
let ready: Promise<void> | null = null;

function post(message: FromWorker) {
  self.postMessage(message);
}

async function init(message: Extract<ToWorker, { type: "init" }>) {
  const { config } = message;
  store = await openStore(config, "deliver");
  runner = new DeliveryRunner(config, store, {
    dailyCounters: message.dailyCounters,
    rules: message.rules,
    onSettled: (count) => post({ type: "settled", count }),
    log: (line) => post({ type: "log", line }),
  });
  // [bounce/dkim hooks] suppression screen, DKIM signing, classification, DSNs.
  bounce = createBounceHooks(config, message.index, store, runner.ctx, post);
  runner.useHooks({ classify: bounce.classify, afterSettle: bounce.afterSettle });
}

self.onmessage = async (event: MessageEvent<ToWorker>) => {
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
  } else if (message.type === "stop") {
    stopping = true;
    // Finish what is in flight (bounded by the command timeout), settle it, then leave;
    // anything not settled is re-delivered after its lease (at-least-once).
    await runner?.drain(10_000);
    await bounce?.stop();
    await runner?.close();
    await store?.close();
    post({ type: "stopped" });
  }
};
