/**
 * The scheduler: leases due delivery units from the queue in batches and hands them to delivery
 * workers, keeping at most `capacity` units in flight. It wakes when mail was accepted, when a
 * worker settled units, and at the next due time (capped by `queue.poll_interval`, which also
 * covers mail accepted by other nodes). It never touches the network or message bodies.
 *
 * It takes nothing before {@link Scheduler.start} (called once the delivery workers are ready),
 * tracks every unit it took in its watchdog (core/schedule/watchdog.ts) until a worker settles
 * it, and returns to the queue what it cannot hand over, what is held past the hold bound and,
 * on shutdown, what is left (core/schedule/returns.ts, docs/watchdog.md). Its one timer is
 * core/schedule/pass_timer.ts.
 *
 * Reads config: queue.*, delivery.concurrency, delivery.workers.
 */
import type { Config } from "../config/mod.ts";
import type { HeldOutcome, LeasedUnit } from "../contracts/mod.ts";
import type { ScheduleQueue } from "../queue/mod.ts";
import type { LeaseCredits } from "../queue/lease_credits.ts";
import type { PauseGate } from "./pauses.ts";
import { PassTimer } from "./pass_timer.ts";
import { Returns } from "./returns.ts";
import { type TakenRef, Watchdog } from "./watchdog.ts";

export { describeOverdue, type HeldUnit, type TakenRef, Watchdog } from "./watchdog.ts";

/** Where leased units go: picks a worker for each unit (see {@link Scheduler.handOver}). */
export type Dispatch = (units: LeasedUnit[]) => void;

/** How often the watchdog looks: a quarter of the lease time, between 1 s and 60 s. */
export function watchdogInterval(config: Config): number {
  return Math.max(1_000, Math.min(60_000, config.queue.lease_time / 4));
}

/** The least time between two passes for units due while lending (see wakeForDue). */
const DUE_PASS_GAP_MS = 100;

/** Leases due units and dispatches them within a bound of in-flight units. */
export class Scheduler {
  #queue: ScheduleQueue;
  #config: Config;
  #dispatch: Dispatch;
  #watchdog: Watchdog;
  #returns: Returns;
  #watchdogTimer: ReturnType<typeof setInterval> | null = null;
  #started = false;
  #running = false;
  #again = false;
  // A due-time timer that fires is no longer armed (so wakeForDue may arm the next).
  #timer = new PassTimer(() => this.wakeForDue());
  #dueHint: number | null = null;
  #stopped = false;
  #failing = false;
  #log: (line: string) => void;
  #pauses: PauseGate | null = null;
  #credits: LeaseCredits | null = null;
  // The last pass found no due unit left, and nothing may have become due since (wake()).
  #drained = false;
  // A wakeForDue() asked for a pass that leases with credits taken back (see there).
  #lendingPass = false;
  #lastPassAt = 0;
  // Token prefixes of accepting threads' runs that ended: their late reports are not adopted.
  #endedRuns = new Set<string>();

  constructor(
    queue: ScheduleQueue,
    config: Config,
    dispatch: Dispatch,
    log: (line: string) => void,
  ) {
    this.#queue = queue;
    this.#config = config;
    this.#dispatch = dispatch;
    this.#log = log;
    this.#watchdog = new Watchdog({ boundMs: config.queue.lease_time });
    this.#returns = new Returns(queue, this.#watchdog, log, () => this.#mayBeDue());
  }

  /** Units taken and not settled or returned yet. */
  get inFlight(): number {
    return this.#watchdog.size;
  }

  /** The taken units' bookkeeping (for heartbeat details and tests). */
  get watchdog(): Watchdog {
    return this.#watchdog;
  }

  get #capacity(): number {
    return this.#config.delivery.concurrency * this.#config.delivery.workers;
  }

  /** Least room worth a lease while units are in flight: a quarter of the capacity. */
  get #lowWater(): number {
    return Math.max(1, Math.min(this.#config.queue.batch_size, Math.floor(this.#capacity / 4)));
  }

  /**
   * Applies stored pauses before dispatch (core/schedule/pauses.ts): a unit a pause holds is
   * settled as held there, before any lookup or connection.
   */
  usePauses(gate: PauseGate) {
    this.#pauses = gate;
  }

  /**
   * Lends accepting threads lease credits (core/queue/lease_credits.ts): while it has room, no
   * due unit waits and no pause is in force, they insert new units already leased and hand
   * them over with {@link adopt}, saving a lease transaction per batch.
   */
  useAcceptLeases(credits: LeaseCredits) {
    this.#credits = credits;
  }

  /** The credits it lends (null when it does not). */
  get leaseCredits(): LeaseCredits | null {
    return this.#credits;
  }

  /**
   * Units an accepting thread (`thread`) inserted already leased with this scheduler's credits:
   * tracked and dispatched as if leased here (pauses still hold them); after stop they go back.
   */
  adopt(reported: LeasedUnit[], thread: number) {
    // A run that ended had its leases returned already (releaseAcceptLeases).
    const units = reported.filter((u) => !this.#runEnded(u.leaseToken));
    if (units.length === 0) return;
    this.#watchdog.take(units, "dispatch");
    this.#credits?.arrived(thread, units.length);
    if (!this.#started || this.#stopped) {
      this.giveBack(units, "leased at accept while the scheduler was not running");
      return;
    }
    this.#dispatchTaken(units, false);
    this.#lend();
  }

  #runEnded(token: string): boolean {
    for (const prefix of this.#endedRuns) if (token.startsWith(prefix)) return true;
    return false;
  }

  /**
   * An accepting thread's run whose lease tokens start with `prefix` ended (the worker crashed):
   * the units it inserted leased and never reported go back to the queue now, not at lease
   * expiry. Those adopted here stay where they are, and a late report of that run is ignored.
   * Safe to call again (say once the restarted worker is up, for a commit that landed late).
   */
  async releaseAcceptLeases(prefix: string, why: string): Promise<void> {
    if (!this.#queue.releaseAcceptLeases) return;
    this.#endedRuns.add(prefix);
    const keep = new Set(
      this.#watchdog.all().map((u) => u.leaseToken).filter((t) => t.startsWith(prefix)),
    );
    try {
      const returned = await this.#queue.releaseAcceptLeases(prefix, [...keep]);
      if (returned === 0) return;
      this.#log(`schedule: returned ${returned} units leased at accept to the queue: ${why}`);
      this.wake();
    } catch (error) {
      this.#log(
        `schedule: cannot return the units leased at accept (${why}; due again at their ` +
          `lease expiry): ${(error as Error).message}`,
      );
    }
  }

  /** Offers the room as credits while that is safe, else withdraws them (see useAcceptLeases). */
  #lend() {
    if (!this.#credits) return;
    const lend = this.#started && !this.#stopped && !this.#failing && this.#drained &&
      (this.#pauses?.pauses.length ?? 0) === 0;
    if (lend) this.#credits.grant(Math.max(0, this.#capacity - this.inFlight));
    else this.#credits.revoke();
  }

  /** Leases left behind by a previous run of this node are due again now. */
  async recover(): Promise<number> {
    return await this.#queue.recover();
  }

  /**
   * Starts taking units (call once whatever `dispatch` hands units to is ready): the queue
   * starts taking (RabbitMQ: consuming), the watchdog starts looking, and a first pass runs.
   */
  async start(): Promise<void> {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    await this.#queue.startTaking();
    this.#watchdogTimer = setInterval(() => this.checkHeld(), watchdogInterval(this.#config));
    this.wake();
  }

  /**
   * Hands units to `where` through `post`: those still taken are marked as being there and
   * posted; if posting throws they go back to the queue (nothing stays taken that nobody
   * handles). Units returned meanwhile (say by the watchdog) are not posted.
   */
  handOver(units: LeasedUnit[], where: string, post: (units: LeasedUnit[]) => void) {
    this.#returns.handOver(units, where, post);
  }

  /** Returns taken units to the queue (due again now, no attempt counted), with the reason. */
  giveBack(units: TakenRef[], why: string) {
    this.#returns.giveBack(units, why);
  }

  /**
   * Units finished (settled or abandoned) by a worker, by lease token (and unit id, which
   * names the unit exactly where one lease covers several units).
   */
  settled(tokens: string[], unitIds?: string[], dueAt?: number) {
    this.#watchdog.finish(tokens, unitIds);
    // Lending, with nothing due waiting: the room goes to new mail with no lease transaction,
    // and a pass runs when the earliest of them is due again (a retry, a hold's end).
    if (this.#credits && this.#drained) {
      if (dueAt !== undefined) this.#passBy(dueAt);
      this.#lend();
    } else this.#kick();
  }

  /** Makes the next timed pass run by `at` at the latest. */
  #passBy(at: number) {
    if (this.#running) {
      // Its timer may be armed from a nextDueAt read before that settle: looked at after it.
      this.#dueHint = Math.min(this.#dueHint ?? at, at);
      return;
    }
    if (!this.#stopped) this.#timer.by(at);
  }

  /**
   * The watchdog's look: units held past the bound are reported (ids and where) and returned
   * to the queue, and so are units the queue holds unleased for that long. Runs periodically
   * after start; public for tests.
   */
  checkHeld(now = Date.now()) {
    if (this.#returns.returnOverdue(now)) this.wake();
  }

  /** Asks for a scheduling pass soon (nothing happens before start or after stop). */
  wake() {
    this.#mayBeDue();
    this.#kick();
  }

  /**
   * Units may have become due (a retry's time, the poll, a DSN a worker made). While lending, the
   * pass leases them with credits taken back from the offer, and the accepting threads go on
   * leasing new mail: revoking every credit for each retry opened a window per retry in which new
   * mail went in unleased and needed passes of its own (the realistic bench: 419 lease
   * transactions for 5 000 messages). A pass that uses all it took back may have met a backlog:
   * the credits are revoked and full passes follow, as after wake(). Such passes run at most
   * every DUE_PASS_GAP_MS: retries due a few ms apart share one lease transaction.
   */
  wakeForDue() {
    if (!this.#credits || !this.#drained) return this.wake();
    const gap = Math.min(DUE_PASS_GAP_MS, this.#config.queue.poll_interval);
    if (!this.#running && Date.now() < this.#lastPassAt + gap) {
      return this.#passBy(this.#lastPassAt + gap);
    }
    this.#lendingPass = true;
    this.#kick();
  }

  /** Units may be due now: no credits until a pass has leased them (they came first). */
  #mayBeDue() {
    this.#drained = false;
    this.#credits?.revoke();
  }

  #kick() {
    if (!this.#started || this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#run();
  }

  async #run() {
    this.#running = true;
    this.#timer.clear();
    let full = false;
    try {
      do {
        this.#again = false;
        const room = this.#capacity - this.inFlight;
        // Full, or too little room to be worth a lease transaction while work is in flight:
        // the next settle wakes us; no timer needed. (Leasing a handful at a time would cost
        // one write transaction per handful, competing with the settles for the write lock.)
        if (room <= 0 || (this.inFlight > 0 && room < this.#lowWater)) {
          full = true;
          break;
        }
        let limit = Math.min(room, this.#config.queue.batch_size);
        let lending = this.#lendingPass && this.#drained;
        this.#lendingPass = false;
        if (lending) {
          // A quarter of the room at most: the rest stays on offer for new mail meanwhile.
          const reclaimed = this.#credits?.reclaim(Math.min(limit, this.#lowWater)) ?? 0;
          // All the room lent out is in transit: a full pass instead.
          if (reclaimed > 0) limit = reclaimed;
          else {
            lending = false;
            this.#mayBeDue();
          }
        }
        const units = await this.#queue.lease(limit);
        if (this.#stopped) {
          this.#watchdog.take(units, "dispatch");
          this.giveBack(units, "leased while stopping");
          break;
        }
        if (units.length > 0) this.#dispatchTaken(units);
        if (lending && units.length === limit) this.#mayBeDue();
        if (lending && units.length < limit) continue; // still drained (unless woken meanwhile)
        if (units.length === limit) this.#again = true;
        // Fewer than asked and no wake meanwhile: nothing due is left waiting.
        else if (!this.#again) this.#drained = true;
      } while (this.#again && !this.#stopped);
      if (full) this.#drained = false;
      else await this.#armTimer();
      if (this.#failing) {
        this.#failing = false;
        this.#log("schedule: leasing again");
      }
    } catch (error) {
      // Retried every poll interval; while the database is away the store fails fast and
      // reconnects with its own backoff, so one line per outage is enough.
      if (!this.#failing) this.#log(`schedule: ${(error as Error).message}`);
      this.#failing = true;
      this.#drained = false;
      if (!this.#stopped) this.#timer.arm(this.#config.queue.poll_interval, () => this.wake());
    } finally {
      this.#running = false;
      this.#lastPassAt = Date.now();
    }
    this.#lend();
    const hint = this.#dueHint;
    this.#dueHint = null;
    if (this.#again) this.#kick();
    else if (hint !== null && this.#timer.armed) this.#passBy(hint);
  }

  /** Tracks and dispatches a leased batch; a dispatch that throws returns what it kept. */
  #dispatchTaken(taken: LeasedUnit[], track = true) {
    if (track) this.#watchdog.take(taken, "dispatch");
    const { pass: units, held } = this.#pauses?.split(taken) ?? { pass: taken, held: [] };
    if (held.length > 0) this.#holdPaused(held);
    if (units.length === 0) return;
    try {
      this.#dispatch(units);
    } catch (error) {
      const kept = units.filter((u) => this.#watchdog.whereIs(u) === "dispatch");
      this.giveBack(kept, `dispatch failed: ${(error as Error).message}`);
    }
  }

  /** Settles units a pause holds (no attempt used); if that fails they go back as they were. */
  #holdPaused(held: HeldOutcome[]) {
    this.#queue.hold(held).then(
      () => this.settled(held.map((o) => o.leaseToken), held.map((o) => o.unitId)),
      (error) => this.giveBack(held, `cannot hold paused units: ${(error as Error).message}`),
    );
  }

  async #armTimer() {
    if (this.#stopped) return;
    const next = await this.#queue.nextDueAt();
    if (this.#stopped) return;
    const poll = this.#config.queue.poll_interval;
    this.#timer.arm(next === null ? poll : Math.min(poll, next - Date.now()));
  }

  /**
   * Stops scheduling: no further lease, and the queue takes no more units and returns those it
   * took but did not lease (RabbitMQ). Units at workers finish there; {@link returnAll} returns
   * what is left once the workers stopped.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#credits?.revoke();
    this.#timer.clear();
    if (this.#watchdogTimer) clearInterval(this.#watchdogTimer);
    const returned = await this.#queue.stopTaking();
    if (returned > 0) this.#log(`schedule: returned ${returned} units not leased yet to the queue`);
  }

  /** After the workers stopped: returns every unit still taken (none is left to expire). */
  async returnAll(): Promise<void> {
    await this.#returns.returnAll();
  }
}
