/**
 * Leases granted at accept (embedded queue, `queue.lease_at_accept`): the scheduler on the main
 * thread lends accepting threads (the SMTP workers) *credits*, one per unit it has room for, in
 * shared memory. An accepting thread that holds credits inserts that many of a batch's units
 * already leased to this node in the group commit itself, and hands them to the scheduler with
 * its "accepted" report: no lease transaction for them (docs/performance.md).
 *
 * The scheduler still decides: it grants credits only while it has room and its last pass found
 * no due unit waiting (new mail never overtakes a backlog), and no pause is in force; it revokes
 * them whenever something may have become due. Credits a thread took and has not reported yet
 * are *in transit*, counted against the room until the units arrive (or the commit failed).
 *
 * The memory is an Int32Array: slot 0 the credits on offer, slot 1 + n the units in transit
 * from accepting thread n. Only Atomics touch it.
 */

/** Slot of the credits on offer. */
const OFFER = 0;

/** The shared memory for `threads` accepting threads. */
export function leaseCreditsMemory(threads: number): SharedArrayBuffer {
  return new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT * (1 + Math.max(1, threads)));
}

/** Subtracts `n` from `slot`, never below 0 (a thread's slot is reset when it crashes). */
function takeFrom(cells: Int32Array, slot: number, n: number): void {
  for (;;) {
    const was = Atomics.load(cells, slot);
    const next = Math.max(0, was - n);
    if (Atomics.compareExchange(cells, slot, was, next) === was) return;
  }
}

/** The scheduler's side: grants, revokes, and counts what arrived. */
export class LeaseCredits {
  readonly memory: SharedArrayBuffer;
  #cells: Int32Array;

  constructor(memory: SharedArrayBuffer) {
    this.memory = memory;
    this.#cells = new Int32Array(memory);
  }

  /** Credits on offer. */
  get offered(): number {
    return Atomics.load(this.#cells, OFFER);
  }

  /** Units taken by accepting threads and not arrived yet. */
  get inTransit(): number {
    let sum = 0;
    for (let slot = 1; slot < this.#cells.length; slot++) sum += Atomics.load(this.#cells, slot);
    return sum;
  }

  /**
   * Offers credits so that offered + in transit come to `room`. (Read in this order a credit
   * a thread moves meanwhile is counted twice, never missed: the offer errs on the small side.)
   */
  grant(room: number): void {
    const offered = this.offered;
    const add = room - offered - this.inTransit;
    if (add > 0) Atomics.add(this.#cells, OFFER, add);
    else if (add < 0) {
      Atomics.compareExchange(this.#cells, OFFER, offered, offered + add < 0 ? 0 : offered + add);
    }
  }

  /**
   * Takes up to `wanted` credits back from the offer for the scheduler's own lease (units due
   * while it lends); how many it got. What is in transit is not touched.
   */
  reclaim(wanted: number): number {
    for (;;) {
      const offered = this.offered;
      const got = Math.min(offered, Math.max(0, wanted));
      if (got === 0) return 0;
      if (Atomics.compareExchange(this.#cells, OFFER, offered, offered - got) === offered) {
        return got;
      }
    }
  }

  /** Withdraws every credit on offer (what is in transit still arrives). */
  revoke(): void {
    Atomics.store(this.#cells, OFFER, 0);
  }

  /** `n` units taken by accepting thread `thread` arrived (are counted in flight now). */
  arrived(thread: number, n: number): void {
    takeFrom(this.#cells, 1 + thread, n);
  }

  /** Accepting thread `thread` is gone: nothing more arrives from it. */
  forget(thread: number): void {
    Atomics.store(this.#cells, 1 + thread, 0);
  }
}

/** An accepting thread's side: takes credits for a batch, or gives them up. */
export class LeaseCreditTaker {
  #cells: Int32Array;
  #slot: number;

  constructor(memory: SharedArrayBuffer, thread: number) {
    this.#cells = new Int32Array(memory);
    this.#slot = 1 + thread;
    if (this.#slot >= this.#cells.length) throw new Error(`No lease credit slot for ${thread}`);
  }

  /** Takes up to `wanted` credits; how many it got (they are in transit until reported). */
  take(wanted: number): number {
    if (wanted <= 0) return 0;
    // Counted in transit first, so the scheduler never sees a credit in neither place.
    Atomics.add(this.#cells, this.#slot, wanted);
    for (;;) {
      const offered = Atomics.load(this.#cells, OFFER);
      const got = Math.min(offered, wanted);
      if (
        got === 0 || Atomics.compareExchange(this.#cells, OFFER, offered, offered - got) === offered
      ) {
        if (got < wanted) takeFrom(this.#cells, this.#slot, wanted - got);
        return got;
      }
    }
  }

  /** The `n` units taken were not inserted (the commit failed): no longer in transit. */
  cancel(n: number): void {
    if (n > 0) takeFrom(this.#cells, this.#slot, n);
  }
}
