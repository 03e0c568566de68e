/**
 * The scheduler's returns to the queue: units it took and cannot or need not keep (a failed
 * hand-over, a worker that did not settle them, units held past the hold bound, what is left at
 * shutdown) go back, due again now and with no attempt counted, each return logged with why.
 * The bookkeeping of what is taken is the watchdog's (core/schedule/watchdog.ts).
 */
import type { LeasedUnit } from "../contracts/mod.ts";
import type { ScheduleQueue } from "../queue/mod.ts";
import type { TakenRef, Watchdog } from "./watchdog.ts";

/** Returns taken units to the queue; see the module comment. */
export class Returns {
  #queue: ScheduleQueue;
  #watchdog: Watchdog;
  #log: (line: string) => void;
  #returning: () => void;

  /** `returning`: called before units go back (they are due again: the scheduler looks). */
  constructor(
    queue: ScheduleQueue,
    watchdog: Watchdog,
    log: (line: string) => void,
    returning: () => void,
  ) {
    this.#queue = queue;
    this.#watchdog = watchdog;
    this.#log = log;
    this.#returning = returning;
  }

  /** Marks units as at `where` and posts them; if posting throws they go back. */
  handOver(units: LeasedUnit[], where: string, post: (units: LeasedUnit[]) => void) {
    const mine = this.#watchdog.move(units, where);
    if (mine.length === 0) return;
    try {
      post(mine);
    } catch (error) {
      this.giveBack(mine, `cannot hand them to ${where}: ${(error as Error).message}`);
    }
  }

  /** Returns those of `units` still taken, with the reason. */
  giveBack(units: TakenRef[], why: string) {
    const held = units.filter((u) => this.#watchdog.holds(u));
    if (held.length === 0) return;
    this.#returning();
    this.#watchdog.finish(held.map((u) => u.leaseToken), held.map((u) => u.unitId));
    this.#log(`schedule: returned ${held.length} units to the queue: ${why}`);
    this.#queue.giveBack(held).catch((error) =>
      this.#log(
        `schedule: cannot return ${held.length} units (due again at their lease expiry): ${
          (error as Error).message
        }`,
      )
    );
  }

  /**
   * Returns the units held past the bound, and those the queue held unleased that long;
   * whether there were any (they are due again).
   */
  returnOverdue(now: number): boolean {
    const { units, line } = this.#watchdog.collectOverdue(now);
    if (line) {
      this.#log(line);
      this.#queue.giveBack(units).catch((error) =>
        this.#log(`schedule: cannot return overdue units: ${(error as Error).message}`)
      );
    }
    const waiting = this.#queue.returnWaiting(now - this.#watchdog.boundMs);
    if (waiting.length > 0) {
      this.#log(
        `watchdog: ${waiting.length} units waited in this node's queue buffer longer than ` +
          `${this.#watchdog.boundMs} ms without being leased, returned to the queue: ` +
          `${waiting.slice(0, 20).join(", ")}${waiting.length > 20 ? " …" : ""}`,
      );
    }
    return line !== null || waiting.length > 0;
  }

  /** Returns every unit still taken (after the workers stopped). */
  async returnAll(): Promise<void> {
    const left = this.#watchdog.all();
    if (left.length === 0) return;
    this.#watchdog.finish(left.map((u) => u.leaseToken), left.map((u) => u.unitId));
    this.#log(`schedule: returned ${left.length} units not settled by the workers to the queue`);
    await this.#queue.giveBack(left).catch((error) =>
      this.#log(`schedule: cannot return ${left.length} units: ${(error as Error).message}`)
    );
  }
}
