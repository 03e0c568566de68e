/**
 * The schedule role's leases on RabbitMQ: pushed copies are checked against SQL in one query
 * per batch. A copy that is no longer its unit's live copy (`queue.copy_seq`) is dropped
 * (acked), one that is due later is parked again in its delay tier, one redelivered while its
 * unit is being attempted here is held until that attempt settles, the rest are leased. The
 * AMQP delivery itself is the lease: if this node dies, the broker gives the unit to another
 * node. A copy that cannot be admitted counts a handling failure on its unit only; one that
 * cannot be read quarantines its unit (docs/quarantine.md).
 *
 * Reads config: queue.lease_time.
 */
import { faultPoint } from "../fault_points.ts";
import type { UnitState } from "../store/mod.ts";
import { type LeasedUnit, parseMeta, type QueuedUnit } from "../contracts/mod.ts";
import {
  failureReason,
  type FailureRecord,
  isInfrastructureError,
  reportFailures,
  type UnitFailure,
} from "./failures.ts";
import { decodeUnit, leaseToken } from "./rabbit_codec.ts";
import type { Delivery, UnitConsumer } from "./rabbit_consumer.ts";
import type { RabbitContext } from "./rabbit_publisher.ts";

interface Lease {
  delivery: Delivery;
  unitId: string;
  at: number;
}

/** A pushed copy and the unit it carries. */
type Copy = { delivery: Delivery; unit: QueuedUnit };

/** The leases of one schedule-role queue. */
export class LeaseBook {
  #ctx: RabbitContext;
  #consumer: UnitConsumer;
  #fail: (failures: UnitFailure[]) => Promise<FailureRecord[]>;
  #leases = new Map<string, Lease>();
  #unitsInFlight = new Map<string, string>();

  constructor(
    ctx: RabbitContext,
    consumer: UnitConsumer,
    fail: (failures: UnitFailure[]) => Promise<FailureRecord[]>,
  ) {
    this.#ctx = ctx;
    this.#consumer = consumer;
    this.#fail = fail;
  }

  /** Takes up to `limit` pushed units that are due now, each under a lease. */
  async lease(limit: number): Promise<LeasedUnit[]> {
    const out: LeasedUnit[] = [];
    while (out.length < limit) {
      const taken = this.#consumer.take(limit - out.length);
      if (taken.length === 0) break;
      await this.#admit(taken, out);
    }
    return out;
  }

  /** Sorts pushed copies into leases (`out`), copies to park, to hold, and stale ones. */
  async #admit(taken: Delivery[], out: LeasedUnit[]) {
    const consumer = this.#consumer;
    const now = Date.now();
    const candidates: Copy[] = [];
    const park: Copy[] = [];
    const unreadable: Delivery[] = [];
    for (const delivery of taken) {
      const unit = decodeUnit(delivery.msg.content);
      if (!unit) {
        unreadable.push(delivery);
      } else if (this.#unitsInFlight.has(unit.unitId)) {
        // Redelivered while this node still works on it: decide once that attempt settles.
        consumer.hold(delivery, unit.unitId);
      } else if (unit.dueAt > now) {
        park.push({ delivery, unit });
      } else {
        candidates.push({ delivery, unit });
      }
    }
    let states;
    try {
      states = await this.#ctx.store.unitStates(candidates.map((c) => c.unit.unitId));
    } catch (error) {
      // Keep them for the next pass (they are still unacknowledged).
      for (const { delivery } of candidates.reverse()) consumer.putBack(delivery);
      await this.#park(park);
      this.#requeueUnreadable(unreadable);
      throw error;
    }
    const failed: { delivery: Delivery; failure: UnitFailure }[] = [];
    for (const { delivery, unit } of candidates) {
      // One unit that cannot be admitted must not cost the others theirs (docs/quarantine.md).
      try {
        this.#admitOne(delivery, unit, states.get(unit.unitId), now, out, park);
      } catch (error) {
        failed.push({
          delivery,
          failure: {
            unitId: unit.unitId,
            messageId: unit.messageId,
            leaseToken: "",
            copy: unit.copy,
            reason: failureReason("consume", error),
          },
        });
      }
    }
    await this.#park(park);
    await this.#failAdmits(failed);
    await this.#quarantineUnreadable(unreadable);
  }

  #admitOne(
    delivery: Delivery,
    unit: QueuedUnit,
    state: UnitState | undefined,
    now: number,
    out: LeasedUnit[],
    park: Copy[],
  ) {
    const consumer = this.#consumer;
    if (!state) {
      this.#ctx.log(`queue: unit ${unit.unitId} is not in the database; dropped`);
      consumer.ack(delivery);
    } else if (state.state === "quarantined" && state.copy < unit.copy) {
      // The copy of a release whose SQL update is not committed (yet, or ever).
      park.push({ delivery, unit: { ...unit, dueAt: now + this.#ctx.publisher.tiers[0] } });
    } else if (state.state !== "queued" || state.copy > unit.copy) {
      consumer.ack(delivery); // a stale copy: its unit moved on already (or is quarantined)
    } else if (state.copy < unit.copy) {
      // A retry copy whose settle is not committed (yet, or ever): look again shortly.
      park.push({ delivery, unit: { ...unit, dueAt: now + this.#ctx.publisher.tiers[0] } });
    } else if (this.#unitsInFlight.has(unit.unitId)) {
      consumer.hold(delivery, unit.unitId);
    } else {
      faultPoint("consume", unit.unitId); // TEST ONLY (core/fault_points.ts)
      const token = leaseToken(delivery, unit);
      this.#leases.set(token, { delivery, unitId: unit.unitId, at: now });
      this.#unitsInFlight.set(unit.unitId, token);
      out.push({
        v: 1,
        unitId: unit.unitId,
        messageId: unit.messageId,
        domain: unit.domain,
        sender: unit.sender,
        attempts: unit.attempts + 1,
        createdAt: unit.createdAt,
        leaseToken: token,
        recipients: unit.recipients,
        meta: parseMeta(state.meta),
      });
    }
  }

  /** Counts the failures of units that could not be admitted, then returns them to the broker. */
  async #failAdmits(failed: { delivery: Delivery; failure: UnitFailure }[]) {
    if (failed.length === 0) return;
    const log = this.#ctx.log;
    try {
      reportFailures(
        await this.#fail(failed.map((f) => f.failure)),
        (line) => log(`queue: ${line}`),
        this.#ctx.onQuarantined,
      );
    } catch (error) {
      log(`queue: cannot record ${failed.length} handling failures: ${(error as Error).message}`);
    }
    // Redelivered at once; a quarantined one is then dropped by #admit (state not queued).
    for (const { delivery } of failed) this.#consumer.ack(delivery, true);
  }

  /**
   * A broker message we cannot read cannot be retried from: its unit (named by the message's
   * `messageId` property) is quarantined at once, and a release publishes a fresh copy from
   * SQL. One that names no unit is only logged and dropped.
   */
  async #quarantineUnreadable(deliveries: Delivery[]) {
    const { store, log } = this.#ctx;
    for (const delivery of deliveries) {
      const unitId = delivery.msg.properties.messageId;
      if (typeof unitId !== "string" || unitId === "") {
        log(`queue: dropping an unreadable unit message that names no unit`);
        this.#consumer.ack(delivery);
        continue;
      }
      try {
        const held = await store.quarantine.quarantineNow(
          unitId,
          "consume: unreadable broker message",
          Date.now(),
        );
        log(
          held
            ? `quarantine: unit ${unitId} quarantined: consume: unreadable broker message`
            : `queue: dropping an unreadable copy of unit ${unitId} (not queued)`,
        );
        this.#consumer.ack(delivery);
      } catch (error) {
        if (!isInfrastructureError(error)) log(`queue: ${(error as Error).message}`);
        this.#consumer.ack(delivery, true);
      }
    }
  }

  #requeueUnreadable(deliveries: Delivery[]) {
    for (const delivery of deliveries) this.#consumer.ack(delivery, true);
  }

  /** Re-publishes early copies to their delay tier, then acks the originals. */
  async #park(items: Copy[]) {
    if (items.length === 0) return;
    const { publisher, log } = this.#ctx;
    const ch = publisher.channel;
    if (!ch) return; // the connection is gone: the broker requeued the originals
    const now = Date.now();
    await Promise.all(items.map(async ({ delivery, unit }) => {
      try {
        await publisher.publish(ch, unit, now);
        this.#consumer.ack(delivery);
      } catch (error) {
        log(`queue: cannot park unit ${unit.unitId}: ${(error as Error).message}`);
        this.#consumer.ack(delivery, true);
      }
    }));
  }

  /**
   * The units with these lease tokens were settled (acked), or with `requeue` abandoned and
   * due again now; copies held for them are taken again.
   */
  release(tokens: string[], requeue: boolean): void {
    const ended: { token: string; lease: Lease }[] = [];
    for (const token of tokens) {
      const lease = this.#leases.get(token);
      if (!lease) continue;
      this.#leases.delete(token);
      ended.push({ token, lease });
    }
    if (requeue) { for (const { lease } of ended) this.#consumer.ack(lease.delivery, true); }
    // Settled copies are acked together: one frame for most of a batch (rabbit_consumer.ts).
    else this.#consumer.ackSettled(ended.map(({ lease }) => lease.delivery));
    for (const { token, lease } of ended) {
      if (this.#unitsInFlight.get(lease.unitId) === token) {
        this.#unitsInFlight.delete(lease.unitId);
        this.#consumer.returnHeld(lease.unitId);
      }
    }
  }

  /** Leases held past `queue.lease_time` (a stuck or lost worker) go back to the broker. */
  sweepExpired() {
    const expired = Date.now() - this.#ctx.config.queue.lease_time;
    const stale = [...this.#leases].filter(([, lease]) => lease.at < expired).map(([t]) => t);
    if (stale.length === 0) return;
    this.#ctx.log(`queue: ${stale.length} leases expired; their units are due again`);
    this.release(stale, true);
  }
}
