/**
 * The scheduler's one timer: when its next timed pass runs (the earliest due time, the poll, a
 * retry after the store failed). At most one is armed; arming again replaces it.
 */

/** The least delay a pass is timed for (ms): a due time in the past still waits this long. */
const LEAST_DELAY_MS = 5;

/** One re-armable timer with the time it fires at. */
export class PassTimer {
  #timer: ReturnType<typeof setTimeout> | null = null;
  #at = 0;
  #fire: () => void;

  /** `fire`: what a timed pass runs, unless {@link arm} names something else. */
  constructor(fire: () => void) {
    this.#fire = fire;
  }

  /** Whether a pass is timed. */
  get armed(): boolean {
    return this.#timer !== null;
  }

  /** Times a pass for `at` at the latest: kept when the armed one fires by then. */
  by(at: number): void {
    if (this.#timer && this.#at <= at) return;
    this.arm(at - Date.now());
  }

  /** Times `fire` (by default the pass) in `delayMs`, replacing what was armed. */
  arm(delayMs: number, fire: () => void = this.#fire): void {
    this.clear();
    const ms = Math.max(delayMs, LEAST_DELAY_MS);
    this.#at = Date.now() + ms;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      fire();
    }, ms);
  }

  /** Disarms it. */
  clear(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
