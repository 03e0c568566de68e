/**
 * Leasing units at accept (core/queue/lease_credits.ts): for a batch about to be committed,
 * takes as many of the scheduler's credits as it has units (in order, whole messages' units
 * first), so the group commit inserts those units already leased to this node, and after the
 * commit builds what the scheduler would have leased for them.
 * Reads config: nodeId, queue.lease_time.
 */
import {
  type LeasedUnit,
  type MessageBytes,
  type NewMessage,
  parseMeta,
  unitsOf,
} from "../contracts/mod.ts";
import type { LeaseCreditTaker } from "../queue/lease_credits.ts";
import type { AcceptLease } from "../store/mod.ts";

/** Units of a batch to insert leased; `complete` when they are all its units. */
export interface Reservation {
  lease: AcceptLease;
  complete: boolean;
}

/** Takes credits for batches and turns a committed batch's leased units into `LeasedUnit`s. */
export class AcceptLeaser {
  #taker: LeaseCreditTaker;
  #config: { nodeId: string; queue: { lease_time: number } };
  #tokenPrefix: string;

  /**
   * `tokenPrefix` starts every lease token this leaser makes: it names this thread's run, so
   * the main thread can return the leases of a run that crashed before it reported them.
   */
  constructor(
    taker: LeaseCreditTaker,
    config: { nodeId: string; queue: { lease_time: number } },
    tokenPrefix = "",
  ) {
    this.#taker = taker;
    this.#config = config;
    this.#tokenPrefix = tokenPrefix;
  }

  /** A lease of as many of the batch's units as there are credits; null for none. */
  reserve(messages: NewMessage<MessageBytes>[], now = Date.now()): Reservation | null {
    const units = messages.flatMap((m) => unitsOf(m).map((u) => u.unitId));
    const got = this.#taker.take(units.length);
    if (got === 0) return null;
    const lease = {
      owner: this.#config.nodeId,
      token: `${this.#tokenPrefix}${crypto.randomUUID()}`,
      now,
      until: now + this.#config.queue.lease_time,
      unitIds: new Set(units.slice(0, got)),
    };
    return { lease, complete: got === units.length };
  }

  /** The commit of a reserved batch failed: its credits are not in transit any more. */
  cancel(reserved: Reservation | null): void {
    if (reserved) this.#taker.cancel(reserved.lease.unitIds.size);
  }

  /** The units `lease` covers, as a lease of them would have returned them. */
  leasedUnits(messages: NewMessage<MessageBytes>[], lease: AcceptLease): LeasedUnit[] {
    const out: LeasedUnit[] = [];
    for (const m of messages) {
      // As stored and read back: JSON text (what a lease reads), not the accept-side object.
      const meta = m.meta ? parseMeta(JSON.stringify(m.meta)) : null;
      for (const { unitId, domain, recipients } of unitsOf(m)) {
        if (!lease.unitIds.has(unitId)) continue;
        out.push({
          v: 1,
          unitId,
          messageId: m.id,
          domain,
          sender: m.sender,
          attempts: 1,
          createdAt: m.receivedAt,
          leaseToken: lease.token,
          recipients,
          meta,
        });
      }
    }
    return out;
  }
}
