/**
 * The delivery stage of one worker: takes leased units, delivers them concurrently (one
 * attempt each, deliver_unit.ts, through the worker's deliverer: SMTP unless told otherwise)
 * and hands their outcomes to the settle stage (core/settle), which settles them in batches
 * and reports which leases finished so the scheduler can release them and send more. Runs
 * inside a delivery worker (workers/delivery_worker.ts) or in-process (tests).
 *
 * Isolation (docs/quarantine.md): an exception while delivering one unit is that unit's
 * handling failure (`Queue.fail`: retried after a short backoff, quarantined at
 * `queue.quarantine_after`); the rest goes on. The database or broker being away is never
 * counted against a unit.
 *
 * Talks to: remote MX hosts, DNS, MTA-STS policy hosts, the store.
 * Reads config: delivery.*, dns.*, routes, ip_addressess (outbound).
 */
import type { SourcePause } from "../routing/source_pauses.ts";
import { rootCertificates } from "node:tls";
import type { Config } from "../config/mod.ts";
import type { LeasedUnit } from "../contracts/mod.ts";
import type { Queue } from "../queue/mod.ts";
import type { BodyStore, QuarantineStore, UnitStore } from "../store/mod.ts";
import { isInfrastructureError } from "../queue/failures.ts";
import { faultPoint, InjectedFault } from "../fault_points.ts";
import type { ClusterShaper } from "../cluster/shaping.ts";
import { type OnSettled, type OutcomeLog, type SettleHooks, Settler } from "../settle/mod.ts";
import type { PersonalizeHook, SignHook } from "./body.ts";
import type { Deliverer, DelivererChoice } from "./deliverer.ts";
import { batchedBodyHeads } from "./body_heads.ts";
import { deliverUnit, type DeliveryContext, type ScreenHook } from "./deliver_unit.ts";
import { type Destination, MxResolver } from "../routing/mx.ts";
import { MtaStsPolicies } from "../routing/mta_sts.ts";
import { type CheckedRule, ShapingPolicy } from "../routing/policy.ts";
import { ConnectionPools } from "./pool.ts";
import { SmtpDeliverer } from "./smtp_deliverer.ts";
import { DailyCounters, SourceSelector } from "../routing/sources.ts";

export { deliverUnit, type DeliveryContext, type ScreenHook } from "./deliver_unit.ts";
export type { PersonalizeHook, SignHook } from "./body.ts";
export type {
  Attempted,
  AttemptFacts,
  Deliverer,
  DelivererChoice,
  DeliveryJob,
} from "./deliverer.ts";
export { noFacts } from "./deliverer.ts";
export { SmtpDeliverer } from "./smtp_deliverer.ts";
export { type Destination, MxResolver } from "../routing/mx.ts";
export { type CheckedRule, choosePool, ShapingPolicy, type StoredRule } from "../routing/policy.ts";
export { buildPools, DailyCounters } from "../routing/sources.ts";

/** Options for a delivery runner; all fixed at construction. */
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
  /** What takes units to their recipients (default: SMTP). */
  deliverer?: DelivererChoice;
  /**
   * Where outcomes are settled and handling failures counted (default: the store, i.e. the
   * embedded queue).
   */
  queue?: Pick<Queue, "settle" | "fail">;
  /** [bounce hook] Splits off suppressed recipients before an attempt (core/bounce). */
  screen?: ScreenHook;
  /** [dkim hook] Signs the body before the transaction (core/dkim). */
  sign?: SignHook;
  /** [bounce hook] Per-recipient VERP senders and List-Unsubscribe headers (core/bounce). */
  personalize?: PersonalizeHook;
  /** Hooks around settle (core/bounce): classification before, suppressions and DSNs after. */
  settleHooks?: SettleHooks;
  /**
   * Called after each batch with the units finished, their lease tokens and unit ids;
   * `requeue` when they were not settled (the leasing side makes them due again).
   */
  onSettled?: OnSettled;
  log?: (line: string) => void;
  /** Where each settled outcome is logged, with its queue id (core/settle/record.ts). */
  logOutcome?: OutcomeLog;
}

/** Trusted CAs for verified TLS: Node's roots plus `delivery.tls_ca_file`. */
export function trustedCas(config: Config): string[] | undefined {
  const file = config.delivery.tls_ca_file;
  if (!file) return undefined;
  return [...rootCertificates, Deno.readTextFileSync(file)];
}

/** What delivery reads and (without a queue of its own) settles through. */
export type DeliveryStore =
  & Pick<BodyStore, "readBody" | "readBodyHeads">
  & Partial<Pick<BodyStore, "readSpooled">>
  & Pick<UnitStore, "settle">
  & { readonly quarantine: Pick<QuarantineStore, "recordFailures"> };

/** Delivers units and hands their outcomes to the settle stage. */
export class DeliveryRunner {
  readonly ctx: DeliveryContext;
  #settler: Settler;
  #policy: ShapingPolicy;
  #active = 0;
  #log: (line: string) => void;

  constructor(config: Config, store: DeliveryStore, options: DeliveryRunnerOptions = {}) {
    this.#log = options.log ?? (() => {});
    this.#settler = new Settler({
      queue: options.queue ?? {
        settle: (outcomes) => store.settle(outcomes),
        fail: (failures) =>
          store.quarantine.recordFailures(failures, {
            limit: config.queue.quarantine_after,
            now: Date.now(),
          }),
      },
      onSettled: options.onSettled,
      hooks: options.settleHooks,
      log: (line) => this.#log(`delivery: ${line}`),
      logOutcome: options.logOutcome,
    });
    this.#policy = new ShapingPolicy(config, options.rules ?? []);
    const policy = () => this.#policy;
    this.ctx = {
      config,
      policy,
      deliverer: this.#openDeliverer(config, options, policy),
      readBody: (id) => store.readBody(id),
      readSpooled: store.readSpooled && ((ref) => store.readSpooled!(ref)),
      // One statement per lease batch, not per unit (body_heads.ts).
      readBodyHead: batchedBodyHeads(store),
      screen: options.screen,
      sign: options.sign,
      personalize: options.personalize,
    };
  }

  #openDeliverer(
    config: Config,
    options: DeliveryRunnerOptions,
    policy: () => ShapingPolicy,
  ): Deliverer {
    const choice = options.deliverer ?? { kind: "smtp" };
    if (choice.kind === "custom") return choice.deliverer;
    const resolver = new MxResolver(config);
    const ca = trustedCas(config);
    const counters = new DailyCounters(options.dailyCounters ?? config.vmtas.length);
    this.#counters = counters;
    return new SmtpDeliverer({
      config,
      resolver,
      pools: new ConnectionPools(config, { shaper: options.shaper, log: this.#log }),
      policy,
      sources: new SourceSelector(config, counters),
      mtaSts: new MtaStsPolicies(config, resolver, ca),
      ca,
    });
  }

  /** Units being delivered or waiting to be settled. */
  get busy(): number {
    return this.#active + this.#settler.busy;
  }

  #counters: DailyCounters | null = null;

  /**
   * Rebuilds what depends on the managed parts of the config after they changed in place
   * (core/cluster/live.ts MANAGED_PARTS): source selection for vmtas and pools (the next pick
   * sees a new or disabled IP; connections in use finish), cached routes for routes.
   */
  reconfigure(parts: string[]) {
    const deliverer = this.ctx.deliverer;
    if (!(deliverer instanceof SmtpDeliverer) || !this.#counters) return;
    if (parts.includes("vmtas") || parts.includes("delivery.pools")) {
      deliverer.ctx.sources = new SourceSelector(this.ctx.config, this.#counters);
    }
    if (parts.includes("routes")) deliverer.ctx.resolver.clear();
  }

  /** The vmta pauses in force: the next source pick skips their sources. */
  setSourcePauses(pauses: SourcePause[]) {
    const deliverer = this.ctx.deliverer;
    if (deliverer instanceof SmtpDeliverer) deliverer.ctx.sourcePauses = pauses;
  }

  /** Applies reloaded shaping rules (the config file's stay underneath). */
  setRules(rules: CheckedRule[]) {
    this.#policy = new ShapingPolicy(this.ctx.config, rules);
  }

  /** Starts delivering `units`; `destinations` are what the dispatcher resolved, by domain. */
  submit(units: LeasedUnit[], destinations?: Record<string, Destination>) {
    for (const unit of units) this.#deliver(unit, destinations?.[unit.domain]);
  }

  async #deliver(unit: LeasedUnit, destination: Destination | undefined) {
    this.#active++;
    try {
      faultPoint("deliver", unit.unitId); // TEST ONLY (core/fault_points.ts)
      // Await first, then hand over (classified, then batched).
      this.#settler.add(await deliverUnit(this.ctx, unit, destination));
    } catch (error) {
      if (isInfrastructureError(error)) {
        this.#log(`delivery: unit ${unit.unitId}: ${(error as Error).message}`);
        this.#settler.giveBack(unit);
      } else {
        if (!(error instanceof InjectedFault)) {
          this.#log(`delivery: unit ${unit.unitId}: ${(error as Error)?.stack ?? error}`);
        }
        this.#settler.fail(unit, "deliver", error);
      }
    } finally {
      this.#active--;
    }
  }

  /** Waits (up to `timeoutMs`) for in-flight deliveries to finish and settle. */
  async drain(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.busy > 0 && Date.now() < deadline) {
      if (!(await this.#settler.settleNow(true))) await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Closes what the deliverer keeps open (idle connections, giving their cluster slots back). */
  async close(): Promise<void> {
    await this.ctx.deliverer.close();
  }
}
