/**
 * The delivery stage of one worker: takes leased units, delivers them concurrently and settles
 * their outcomes in batches (one queue settle per batch), reporting which leases finished so
 * the scheduler can release them and send more. Runs inside a delivery worker (workers/delivery_worker.ts) or
 * in-process (tests).
 *
 * Isolation (docs/quarantine.md): an exception while delivering one unit, or a settle that
 * fails because of one outcome (found by settling the batch again one by one), is that unit's
 * handling failure (`Queue.fail`: retried after a short backoff, quarantined at
 * `queue.quarantine_after`); the rest of the batch goes on. The database or broker being away
 * is never counted against a unit.
 *
 * Talks to: remote MX hosts, DNS, MTA-STS policy hosts, the store.
 * Reads config: delivery.*, dns.*, routes, ip_addressess (outbound).
 */
import { rootCertificates } from "node:tls";
import type { Config } from "../config/mod.ts";
import type { LeasedUnit, UnitOutcome } from "../queue/contracts.ts";
import type { Queue } from "../queue/mod.ts";
import {
  type BodyStore,
  type QuarantineStore,
  StoreUnavailableError,
  type UnitStore,
} from "../store/mod.ts";
import {
  failureReason,
  isInfrastructureError,
  reportFailures,
  type UnitFailure,
} from "../queue/failures.ts";
import { faultDue, faultPoint, InjectedFault } from "../fault_points.ts";
import type { ClusterShaper } from "../cluster/shaping.ts";
import { deliverUnit, type DeliveryContext } from "./deliver_unit.ts";
import { type Destination, MxResolver } from "./mx.ts";
import { MtaStsPolicies } from "./mta_sts.ts";
import { type CheckedRule, ShapingPolicy } from "./policy.ts";
import { ConnectionPools } from "./pool.ts";
import { DailyCounters, SourceSelector } from "./sources.ts";

export { deliverUnit, type DeliveryContext } from "./deliver_unit.ts";
export { type Destination, MxResolver } from "./mx.ts";
export { type CheckedRule, choosePool, ShapingPolicy, type StoredRule } from "./policy.ts";
export { buildPools, DailyCounters } from "./sources.ts";

/** Options for a delivery runner. */
export interface DeliveryRunnerOptions {
  /** Daily per-IP counts shared with other workers of the node. */
  dailyCounters?: SharedArrayBuffer;
  /** Stored shaping rules at start. */
  rules?: CheckedRule[];
  /**
   * Cluster-wide limits per site (core/cluster `openShaper`); default: in memory, this runner
   * alone. The caller closes it after {@link DeliveryRunner.close}.
   */
  shaper?: ClusterShaper;
  /**
   * Where outcomes are settled and handling failures counted (default: the store, i.e. the
   * embedded queue).
   */
  queue?: Pick<Queue, "settle" | "fail">;
  /**
   * Called after each batch with the units finished, their lease tokens and unit ids;
   * `requeue` when they were not settled (the leasing side makes them due again).
   */
  onSettled?: (count: number, tokens: string[], requeue: boolean, unitIds: string[]) => void;
  log?: (line: string) => void;
}

/** Hooks around outcomes (core/bounce): classify before settle, act once it is durable. */
export interface OutcomeHooks {
  classify?(outcome: UnitOutcome): UnitOutcome;
  afterSettle?(batch: UnitOutcome[]): void;
}

/** Trusted CAs for verified TLS: Node's roots plus `delivery.tls_ca_file`. */
export function trustedCas(config: Config): string[] | undefined {
  const file = config.delivery.tls_ca_file;
  if (!file) return undefined;
  return [...rootCertificates, Deno.readTextFileSync(file)];
}

/** What delivery reads and (without a queue of its own) settles through. */
export type DeliveryStore =
  & Pick<BodyStore, "readBody" | "readBodyHead">
  & Pick<UnitStore, "settle">
  & { readonly quarantine: Pick<QuarantineStore, "recordFailures"> };

/** Delivers units and settles their outcomes in batches. */
export class DeliveryRunner {
  readonly ctx: DeliveryContext;
  #store: DeliveryStore;
  #queue: Pick<Queue, "settle" | "fail">;
  #policy: ShapingPolicy;
  #pending: UnitOutcome[] = [];
  #settling = false;
  #settleScheduled = false;
  #active = 0;
  #onSettled: (count: number, tokens: string[], requeue: boolean, unitIds: string[]) => void;
  #log: (line: string) => void;
  #hooks: OutcomeHooks = {};
  /** Wait before the next settle while the database is away; 0 when it answers. */
  #settleRetryMs = 0;
  #draining = false;
  /** Handling failures being recorded. */
  #recording = 0;

  constructor(config: Config, store: DeliveryStore, options: DeliveryRunnerOptions = {}) {
    this.#store = store;
    this.#queue = options.queue ?? {
      settle: (outcomes) => store.settle(outcomes),
      fail: (failures) =>
        store.quarantine.recordFailures(failures, {
          limit: config.queue.quarantine_after,
          now: Date.now(),
        }),
    };
    this.#onSettled = options.onSettled ?? (() => {});
    this.#log = options.log ?? (() => {});
    this.#policy = this.#buildPolicy(config, options.rules ?? []);
    const resolver = new MxResolver(config);
    const ca = trustedCas(config);
    const counters = new DailyCounters(options.dailyCounters ?? config.vmtas.length);
    this.ctx = {
      config,
      resolver,
      pools: new ConnectionPools(config, { shaper: options.shaper, log: this.#log }),
      policy: () => this.#policy,
      sources: new SourceSelector(config, counters),
      mtaSts: new MtaStsPolicies(config, resolver, ca),
      ca,
      readBody: (id) => store.readBody(id),
      readBodyHead: (id, maxBytes) => store.readBodyHead(id, maxBytes),
    };
  }

  #buildPolicy(config: Config, rules: CheckedRule[]): ShapingPolicy {
    return new ShapingPolicy(config, rules);
  }

  /** Units being delivered or waiting to be settled. */
  get busy(): number {
    return this.#active + this.#pending.length + (this.#settling ? 1 : 0) + this.#recording;
  }

  /** Installs outcome hooks (the bounce stage). */
  useHooks(hooks: OutcomeHooks) {
    this.#hooks = hooks;
  }

  /** Applies reloaded shaping rules (the config file's stay underneath). */
  setRules(rules: CheckedRule[]) {
    this.#policy = this.#buildPolicy(this.ctx.config, rules);
  }

  /** Starts delivering `units`; `destinations` are what the dispatcher resolved, by domain. */
  submit(units: LeasedUnit[], destinations?: Record<string, Destination>) {
    for (const unit of units) this.#deliver(unit, destinations?.[unit.domain]);
  }

  async #deliver(unit: LeasedUnit, destination: Destination | undefined) {
    this.#active++;
    try {
      faultPoint("deliver", unit.unitId); // TEST ONLY (core/fault_points.ts)
      // Await first: `pending.push(await …)` would capture the array a settle already took.
      const outcome = await deliverUnit(this.ctx, unit, destination);
      // [bounce hook] categories, before settle.
      this.#pending.push(this.#hooks.classify ? this.#hooks.classify(outcome) : outcome);
    } catch (error) {
      if (isInfrastructureError(error)) {
        this.#log(`delivery: unit ${unit.unitId}: ${(error as Error).message}`);
        this.#onSettled(1, [unit.leaseToken], true, [unit.unitId]);
      } else {
        if (!(error instanceof InjectedFault)) {
          this.#log(`delivery: unit ${unit.unitId}: ${(error as Error)?.stack ?? error}`);
        }
        this.#recordFailures([failureOf(unit, failureReason("deliver", error))]);
      }
    } finally {
      this.#active--;
    }
    this.#scheduleSettle();
  }

  #scheduleSettle() {
    if (this.#settleScheduled || this.#settling) return;
    this.#settleScheduled = true;
    setTimeout(() => this.#settle(), 0);
  }

  async #settle() {
    this.#settleScheduled = false;
    if (this.#pending.length === 0) return;
    this.#settling = true;
    const batch = this.#pending;
    this.#pending = [];
    // TEST ONLY (core/fault_points.ts): outcomes whose settle is to throw in this pass.
    const faulty = new Set(batch.filter((o) => faultDue("settle", o.unitId)).map((o) => o.unitId));
    let settled: UnitOutcome[] = [];
    let unsettled: UnitOutcome[] = [];
    let failed: UnitFailure[] = [];
    try {
      await this.#settleChecked(batch, faulty);
      settled = batch;
      if (this.#settleRetryMs > 0) {
        this.#log(`delivery: settled ${batch.length} held while the database was away`);
        this.#settleRetryMs = 0;
      }
    } catch (error) {
      if (error instanceof StoreUnavailableError && !this.#draining) {
        this.#holdForRetry(batch, error);
        return;
      }
      if (isInfrastructureError(error)) {
        // Nothing is lost: the leases expire and the units are delivered again (at-least-once).
        this.#log(`delivery: cannot settle ${batch.length}: ${(error as Error).message}`);
        unsettled = batch;
      } else {
        // One outcome may be at fault: settle them one by one, so only that unit fails.
        const each = await this.#settleEach(batch, faulty);
        ({ settled, unsettled, failed } = each);
        if (each.held.length > 0) {
          this.#holdForRetry(each.held, each.heldError);
        }
      }
    } finally {
      this.#settling = false;
    }
    if (settled.length > 0) {
      this.#onSettled(
        settled.length,
        settled.map((o) => o.leaseToken),
        false,
        settled.map((o) => o.unitId),
      );
    }
    if (unsettled.length > 0) {
      this.#onSettled(
        unsettled.length,
        unsettled.map((o) => o.leaseToken),
        true,
        unsettled.map((o) => o.unitId),
      );
    }
    if (failed.length > 0) this.#recordFailures(failed);
    // [bounce hook] suppressions and DSNs, after the outcome is durable.
    try {
      if (settled.length > 0) this.#hooks.afterSettle?.(settled);
    } catch (error) {
      this.#log(`delivery: after settle: ${(error as Error).message}`);
    }
    if (this.#pending.length > 0) this.#scheduleSettle();
  }

  async #settleChecked(outcomes: UnitOutcome[], faulty: Set<string>) {
    const fault = faulty.size > 0 ? outcomes.find((o) => faulty.has(o.unitId)) : undefined;
    if (fault) throw new InjectedFault("settle", fault.unitId);
    const lost = await this.#queue.settle(outcomes);
    if (lost > 0) this.#log(`delivery: ${lost} outcomes arrived after their lease`);
  }

  /** Settles one outcome at a time; stops (holding the rest) if the database goes away. */
  async #settleEach(batch: UnitOutcome[], faulty: Set<string>) {
    const settled: UnitOutcome[] = [];
    const unsettled: UnitOutcome[] = [];
    const failed: UnitFailure[] = [];
    let held: UnitOutcome[] = [];
    let heldError: Error = new Error("unknown");
    for (let i = 0; i < batch.length; i++) {
      const o = batch[i];
      try {
        await this.#settleChecked([o], faulty);
        settled.push(o);
      } catch (error) {
        if (error instanceof StoreUnavailableError && !this.#draining) {
          held = batch.slice(i);
          heldError = error;
          break;
        }
        if (isInfrastructureError(error)) unsettled.push(o);
        else failed.push(failureOf(o, failureReason("settle", error)));
      }
    }
    return { settled, unsettled, failed, held, heldError };
  }

  /**
   * The database is away: keep the outcomes and settle them when it is back, so the units are
   * not delivered a second time (nobody can lease them meanwhile: that needs the database too).
   * If the worker stops first, the leases expire and the units are delivered again:
   * at-least-once, nothing lost.
   */
  #holdForRetry(outcomes: UnitOutcome[], error: Error) {
    if (this.#settleRetryMs === 0) {
      this.#log(`delivery: cannot settle ${outcomes.length}, holding them: ${error.message}`);
    }
    this.#pending = outcomes.concat(this.#pending);
    this.#settleRetryMs = Math.min(Math.max(this.#settleRetryMs * 2, 500), 10_000);
    this.#settling = false;
    this.#settleScheduled = true;
    setTimeout(() => this.#settle(), this.#settleRetryMs);
  }

  /** Counts handling failures, then gives the leases back (due again, or quarantined). */
  #recordFailures(failures: UnitFailure[]) {
    this.#recording++;
    this.#queue.fail(failures).then(
      (records) => reportFailures(records, (line) => this.#log(`delivery: ${line}`)),
      (error) =>
        this.#log(`delivery: cannot record ${failures.length} handling failures: ${error.message}`),
    ).finally(() => {
      this.#recording--;
      this.#onSettled(
        failures.length,
        failures.map((f) => f.leaseToken),
        true,
        failures.map((f) => f.unitId),
      );
    });
  }

  /** Waits (up to `timeoutMs`) for in-flight deliveries to finish and settle. */
  async drain(timeoutMs = 10_000): Promise<void> {
    this.#draining = true;
    const deadline = Date.now() + timeoutMs;
    while (this.busy > 0 && Date.now() < deadline) {
      if (this.#pending.length > 0 && !this.#settling) await this.#settle();
      else await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Closes idle connections (giving their cluster slots back). */
  async close(): Promise<void> {
    await this.ctx.pools.closeAll();
  }
}

/** A handling failure of the unit `of` names. */
function failureOf(
  of: Pick<LeasedUnit, "unitId" | "messageId" | "leaseToken">,
  reason: string,
): UnitFailure {
  return { unitId: of.unitId, messageId: of.messageId, leaseToken: of.leaseToken, reason };
}
