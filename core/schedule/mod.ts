/**
 * The scheduler: leases due delivery units from the queue in batches and hands them to delivery
 * workers, keeping at most `capacity` units in flight. It wakes when mail was accepted, when a
 * worker settled units, and at the next due time (capped by `queue.poll_interval`, which also
 * covers mail accepted by other nodes). It never touches the network or message bodies.
 *
 * Reads config: queue.*, delivery.concurrency, delivery.workers.
 */
import type { Config } from "../config/mod.ts";
import type { LeasedUnit } from "../queue/contracts.ts";
import type { Queue } from "../queue/mod.ts";

/** Where leased units go: picks a worker for each unit. */
export type Dispatch = (units: LeasedUnit[]) => void;

/** Leases due units and dispatches them within a bound of in-flight units. */
export class Scheduler {
  #queue: Queue;
  #config: Config;
  #dispatch: Dispatch;
  #inFlight = 0;
  #running = false;
  #again = false;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #stopped = false;
  #failing = false;
  #log: (line: string) => void;

  constructor(queue: Queue, config: Config, dispatch: Dispatch, log: (line: string) => void) {
    this.#queue = queue;
    this.#config = config;
    this.#dispatch = dispatch;
    this.#log = log;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get #capacity(): number {
    return this.#config.delivery.concurrency * this.#config.delivery.workers;
  }

  /** Least room worth a lease while units are in flight: a quarter of the capacity. */
  get #lowWater(): number {
    return Math.max(1, Math.min(this.#config.queue.batch_size, Math.floor(this.#capacity / 4)));
  }

  /** Leases left behind by a previous run of this node are due again now. */
  async recover(): Promise<number> {
    return await this.#queue.recover();
  }

  /** Units finished (settled or abandoned) by a worker. */
  settled(count: number) {
    this.#inFlight = Math.max(0, this.#inFlight - count);
    this.wake();
  }

  /** Asks for a scheduling pass soon. */
  wake() {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#run();
  }

  async #run() {
    this.#running = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    let full = false;
    try {
      do {
        this.#again = false;
        const room = this.#capacity - this.#inFlight;
        // Full, or too little room to be worth a lease transaction while work is in flight:
        // the next settle wakes us; no timer needed. (Leasing a handful at a time would cost
        // one write transaction per handful, competing with the settles for the write lock.)
        if (room <= 0 || (this.#inFlight > 0 && room < this.#lowWater)) {
          full = true;
          break;
        }
        const limit = Math.min(room, this.#config.queue.batch_size);
        const units = await this.#queue.lease(limit);
        if (units.length > 0) {
          this.#inFlight += units.length;
          this.#dispatch(units);
        }
        if (units.length === limit) this.#again = true;
      } while (this.#again && !this.#stopped);
      if (!full) await this.#armTimer();
      if (this.#failing) {
        this.#failing = false;
        this.#log("schedule: leasing again");
      }
    } catch (error) {
      // Retried every poll interval; while the database is away the store fails fast and
      // reconnects with its own backoff, so one line per outage is enough.
      if (!this.#failing) this.#log(`schedule: ${(error as Error).message}`);
      this.#failing = true;
      this.#timer = setTimeout(() => this.wake(), this.#config.queue.poll_interval);
    } finally {
      this.#running = false;
    }
    if (this.#again) this.wake();
  }

  async #armTimer() {
    if (this.#stopped) return;
    const next = await this.#queue.nextDueAt();
    const poll = this.#config.queue.poll_interval;
    const delay = next === null ? poll : Math.min(poll, Math.max(0, next - Date.now()));
    this.#timer = setTimeout(() => this.wake(), Math.max(delay, 5));
  }

  /** Stops scheduling (in-flight units finish in their workers). */
  stop() {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
  }
}
