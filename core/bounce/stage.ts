/**
 * The bounce stage of one delivery worker: the suppression screen (called before an attempt),
 * and the hooks around settle: classification of each outcome before, and the bounce processor
 * after each settled batch (suppressions, DSNs submitted through core/accept). A sweep retries
 * due DSNs that an earlier pass could not send.
 *
 * Reads config: bounce.*, bounceRules, smtp.hostname, id.
 */
import type { Config } from "../config/mod.ts";
import type { LeasedUnit, NewMessage, UnitOutcome } from "../contracts/mod.ts";
import type { SenderSuppressionStore, SuppressionStore } from "../store/mod.ts";
import { classifyOutcome } from "./classify.ts";
import { BounceProcessor, type BounceProcessorOptions } from "./processor.ts";
import { DelayNotifier, type DelayNotifierOptions } from "./delay_notice.ts";
import { type Screened, suppressionScreen } from "./suppression.ts";

/** How often due DSNs that an earlier pass could not send are retried. */
const SWEEP_MS = 60_000;

/** Options for {@link startBounceStage}. */
export interface BounceStageOptions {
  config: Config;
  /** The worker's slot (claims of DSN work are per slot). */
  index: number;
  store:
    & BounceProcessorOptions["store"]
    & Pick<SuppressionStore, "suppressions">
    & Partial<SenderSuppressionStore>
    & DelayNotifierOptions["store"];
  /** The single door (core/accept) DSNs go through. */
  acceptor: { submit(message: NewMessage): Promise<string> };
  log: (line: string) => void;
}

/** The hooks a delivery worker is built with. */
export interface BounceStage {
  /** Splits a unit's suppressed recipients off before an attempt. */
  screen(unit: LeasedUnit): Promise<Screened>;
  /** For core/settle: classify before settle, suppressions and DSNs after. */
  settleHooks: {
    classify(outcome: UnitOutcome): UnitOutcome;
    afterSettle(batch: UnitOutcome[]): void;
  };
  /** Stops the sweep and waits for the processor's work in hand. */
  stop(): Promise<void>;
}

/** Starts the stage: recovers what a previous run of this slot left half done. */
export function startBounceStage(options: BounceStageOptions): BounceStage {
  const { config, store, log } = options;
  const processor = new BounceProcessor({
    store,
    acceptor: options.acceptor,
    config,
    claimPrefix: `claim:${config.nodeId.slice(0, 40)}:${options.index}:`,
    log,
  });
  // Reports a previous run of this slot left half done, and any still due.
  processor.recover();
  const sweep = setInterval(() => processor.sweep(), SWEEP_MS);
  // "Delayed" DSNs (bounce.delay_notice_after), swept by every slot; claims keep them single.
  const delays = new DelayNotifier({
    store,
    acceptor: options.acceptor,
    config,
    claimPrefix: `delay:${config.nodeId.slice(0, 40)}:${options.index}:`,
    log,
  });
  delays.start();
  return {
    screen: suppressionScreen(store, log),
    settleHooks: {
      // Read at each call: the live view replaces config.bounceRules in place.
      classify: (outcome) => classifyOutcome(outcome, config.bounceRules),
      afterSettle: (batch) => processor.afterSettle(batch),
    },
    stop: async () => {
      clearInterval(sweep);
      await delays.stop();
      await processor.idle();
    },
  };
}
