/**
 * The sweep of messages the broker never confirmed: their node died between the SQL commit and
 * the broker's confirm, so the client was never told 250. The schedule role of every node
 * deletes messages still marked after `rabbitmq.unconfirmed_grace` (default 10 min, far beyond
 * the 30 s confirm timeout), in bounded batches; one that is being delivered already is kept.
 *
 * Reads config: rabbitmq.unconfirmed_grace.
 */
import type { Config } from "../config/mod.ts";
import type { BrokerUnitStore } from "../store/mod.ts";

/** Most unconfirmed messages one sweep statement removes, and most statements per sweep. */
const UNCONFIRMED_SWEEP_BATCH = 500;
const UNCONFIRMED_SWEEP_ROUNDS = 20;

/** Runs the sweep now and then, one at a time. */
export class UnconfirmedSweeper {
  #config: Config;
  #store: BrokerUnitStore;
  #log: (line: string) => void;
  #next = 0;
  #running: Promise<unknown> | null = null;

  constructor(config: Config, store: BrokerUnitStore, log: (line: string) => void) {
    this.#config = config;
    this.#store = store;
    this.#log = log;
  }

  /** The sweep in progress, if any (awaited before the store closes). */
  get running(): Promise<unknown> | null {
    return this.#running;
  }

  /**
   * Deletes messages still marked unconfirmed `rabbitmq.unconfirmed_grace` before `now`, in
   * batches of 500, at most 10 000 per call; logs and returns how many. Any node may run it at
   * any time.
   */
  async sweep(now = Date.now()): Promise<number> {
    const cutoff = now - this.#config.rabbitmq!.unconfirmed_grace;
    let removed = 0;
    let kept = 0;
    for (let round = 0; round < UNCONFIRMED_SWEEP_ROUNDS; round++) {
      const result = await this.#store.sweepUnconfirmed(cutoff, UNCONFIRMED_SWEEP_BATCH);
      removed += result.removed;
      kept += result.kept;
      if (result.found < UNCONFIRMED_SWEEP_BATCH) break;
    }
    if (removed > 0) {
      this.#log(
        `queue: removed ${removed} messages never confirmed by the broker (their node stopped ` +
          `between the database commit and the confirm; the clients were not told 250)`,
      );
    }
    if (kept > 0) {
      this.#log(`queue: ${kept} unconfirmed messages were being delivered already: kept`);
    }
    return removed;
  }

  /** From the periodic timer: a sweep every minute or so (a tenth of the grace when shorter). */
  sometimes() {
    const now = Date.now();
    if (this.#running || now < this.#next) return;
    const grace = this.#config.rabbitmq!.unconfirmed_grace;
    this.#next = now + Math.min(60_000, Math.max(1_000, grace / 10));
    this.#running = this.sweep(now)
      .catch((error) =>
        this.#log(`queue: sweep of unconfirmed messages failed: ${(error as Error).message}`)
      )
      .finally(() => this.#running = null);
  }
}
