/**
 * The time limits of one SMTP connection on a single timer: the idle timeout (no byte from
 * the client) and the deadline of the current command line or of the whole DATA. The idle
 * timeout of a socket restarts with every byte, so a client trickling one byte a minute would
 * hold a connection forever; the deadline does not. Time the server spends (a handler still
 * running, a message being committed) counts against neither. Re-arming only moves a number:
 * the timer, when it fires early, sleeps again until the nearer of the two.
 *
 * @module
 */

/** What the clock asks of its connection. */
export interface ClockOwner {
  /** Whether the server, not the client, is what the session waits for. */
  busy(): boolean;
  /** The deadline passed. */
  deadline(): void;
  /** The client was silent for the idle timeout. */
  idle(): void;
}

/** The idle timeout and deadline of one connection. */
export class Clock {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = 0;
  #deadlineAt = 0;
  #lastInput = Date.now();
  #stopped = false;

  constructor(
    private readonly owner: ClockOwner,
    private readonly idleMs: number,
    private readonly graceMs: number,
  ) {}

  /** A byte came from the client. */
  input(): void {
    this.#lastInput = Date.now();
  }

  /** Sets the deadline `ms` from now (0: none). */
  arm(ms: number): void {
    this.#deadlineAt = ms > 0 ? Date.now() + ms : 0;
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #schedule(): void {
    if (this.#stopped) return;
    const idleAt = this.idleMs > 0 ? this.#lastInput + this.idleMs : 0;
    let at = this.#deadlineAt > 0 ? this.#deadlineAt : Infinity;
    if (idleAt > 0 && idleAt < at) at = idleAt;
    if (at === Infinity) return;
    if (this.#timer !== undefined && this.#timerAt <= at) return; // it fires first, re-schedules
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, at - Date.now()));
    Deno.unrefTimer(this.#timer as unknown as number);
  }

  #fire(): void {
    this.#timer = undefined;
    if (this.#stopped) return;
    const now = Date.now();
    if (this.owner.busy()) {
      // Waiting for us is not the client's fault: both limits start over once we answer.
      this.#lastInput = now;
      if (this.#deadlineAt && this.#deadlineAt <= now) this.#deadlineAt = now + this.graceMs;
    } else if (this.#deadlineAt && this.#deadlineAt <= now) {
      return this.owner.deadline();
    } else if (this.idleMs > 0 && this.#lastInput + this.idleMs <= now) {
      return this.owner.idle();
    }
    this.#schedule();
  }
}
