/**
 * What an operator does to units, one page of unit ids at a time (a message's units, or a
 * chunk of a bulk job): retry now, hold, release, cancel, bounce now. Units a delivery worker
 * holds under a lease are left alone by retry, hold and bounce (their attempt decides).
 *
 * - retry: a waiting unit is due now (RabbitMQ: its next copy is published due now).
 * - hold: the unit is quarantined with "held by <who>" as the reason; release undoes it.
 * - release: the message's quarantined units are due again (core/queue/quarantine.ts).
 * - cancel: the unit is done, its open recipients failed with "cancelled by <who>", a
 *   delivery-log row each, no DSN.
 * - bounce: each open recipient fails with a 554 "bounced by the operator" through settle's
 *   door (core/settle's Settler, the queue's settle), and the sender gets the DSN from the
 *   bounce processor (core/bounce) the same way a delivery's failure makes one.
 */
import type { QueueAction } from "../api/queue_ops.ts";
import { Acceptor } from "../accept/mod.ts";
import { BounceProcessor, type BounceProcessorOptions } from "../bounce/processor.ts";
import type { Config } from "../config/mod.ts";
import type { FinalOutcome, LeasedUnit } from "../contracts/mod.ts";
import type { OperateQueue } from "../queue/mod.ts";
import { Settler } from "../settle/mod.ts";
import type { QueueOpsStore, QueueSearchStore } from "../store/mod.ts";
import type { Actor } from "./types.ts";

/** The store roles the actions take. */
export type ActionStore =
  & Pick<QueueOpsStore, "holdUnits" | "cancelUnits">
  & Pick<QueueSearchStore, "searchUnits">
  & BounceProcessorOptions["store"];

/** What the actions run on. */
export interface ActionDeps {
  store: ActionStore;
  queue: OperateQueue;
  config: Config;
  log: (line: string) => void;
}

/** "alice", or "alice: spam run" with a reason. */
function who(actor: Actor, reason?: string): string {
  return reason ? `${actor.name}: ${reason}` : actor.name;
}

/** The final outcome of a unit bounced by `actor`. */
function bounced(unit: LeasedUnit, reply: string, at: number): FinalOutcome {
  return {
    kind: "final",
    unitId: unit.unitId,
    messageId: unit.messageId,
    domain: unit.domain,
    leaseToken: unit.leaseToken,
    at,
    durationMs: 0,
    sourceIp: null,
    mxHost: null,
    remoteIp: null,
    tls: false,
    results: unit.recipients.map((address) => ({
      address,
      outcome: "failed" as const,
      code: 554,
      reply,
      // Not "bad_mailbox": an operator's bounce says nothing about the address.
      category: "policy",
    })),
  };
}

/** Settles final outcomes through a Settler and waits for their DSNs to be accepted. */
async function settleBounces(deps: ActionDeps, outcomes: FinalOutcome[]): Promise<number> {
  const processor = new BounceProcessor({
    store: deps.store,
    acceptor: new Acceptor(deps.queue),
    config: deps.config,
    // A claimer of its own, so no worker slot's claims are taken over.
    claimPrefix: `claim:manage:${crypto.randomUUID().slice(0, 8)}:`,
    log: deps.log,
  });
  const { promise, resolve } = Promise.withResolvers<void>();
  let left = outcomes.length;
  let settled = 0;
  const settler = new Settler({
    queue: deps.queue,
    hooks: { afterSettle: (batch) => processor.afterSettle(batch) },
    onSettled: (count, _tokens, requeue) => {
      if (!requeue) settled += count;
      left -= count;
      if (left <= 0) resolve();
    },
    log: deps.log,
  });
  for (const o of outcomes) settler.add(o);
  await promise;
  await processor.idle();
  return settled;
}

/** Message ids of the quarantined units among `unitIds`. */
async function quarantinedMessages(store: ActionStore, unitIds: string[]): Promise<string[]> {
  const rows = await store.searchUnits({ unitIds, state: "quarantined" }, {
    limit: unitIds.length,
  });
  return [...new Set(rows.map((r) => r.message_id))];
}

/** Applies `action` to the units `unitIds`; returns how many units it changed. */
export async function applyAction(
  deps: ActionDeps,
  action: QueueAction,
  unitIds: string[],
  actor: Actor,
  reason?: string,
): Promise<number> {
  if (unitIds.length === 0) return 0;
  const now = Date.now();
  switch (action) {
    case "retry":
      return await deps.queue.retryNow(unitIds);
    case "hold":
      return await deps.store.holdUnits(unitIds, `held by ${who(actor, reason)}`, now);
    case "release": {
      let released = 0;
      for (const id of await quarantinedMessages(deps.store, unitIds)) {
        released += await deps.queue.resume(id);
      }
      return released;
    }
    case "cancel":
      return (await deps.store.cancelUnits(unitIds, `cancelled by ${who(actor, reason)}`, now))
        .units;
    case "bounce": {
      const units = await deps.queue.claim(unitIds);
      if (units.length === 0) return 0;
      const reply = `5.0.0 bounced by the operator (${who(actor, reason)})`;
      return await settleBounces(deps, units.map((u) => bounced(u, reply, now)));
    }
  }
}
