/**
 * The single door every inbound channel calls. A message is made durable here — batched with
 * whatever else arrived in the same moment into one queue write (group commit: one SQL
 * transaction, plus one wait for the broker's confirms in distributed mode) — and only then
 * does the caller get its queue id to say "yes" with.
 */
import type { LeasedUnit, MessageBytes, NewMessage } from "../contracts/mod.ts";
import type { Queue } from "../queue/mod.ts";
import type { AcceptLeaser, Reservation } from "./accept_lease.ts";
import { emitReceived } from "../events/mod.ts";
import { metrics } from "../metrics/mod.ts";
import { crashPoint } from "../fault_points.ts";

export { AcceptLeaser } from "./accept_lease.ts";
export { newQueueId } from "./queue_id.ts";
export { type RelayPolicy, relayPolicy } from "./policy.ts";

interface Pending {
  message: NewMessage<MessageBytes>;
  resolve: (id: string) => void;
  reject: (error: Error) => void;
}

/** What a durable batch queued: its units leased at accept, and whether that was all of them. */
export interface CommittedUnits {
  leased: LeasedUnit[];
  /** Every unit of the batch was leased at accept: none waits in the queue for a lease. */
  allLeased: boolean;
}

/** Options for the acceptor. */
export interface AcceptorOptions {
  /** Extra time to wait for more messages before committing; 0 commits on the next tick. */
  commitWindowMs?: number;
  /** Called after each durable batch with the number of messages in it, and its units. */
  onCommitted?: (count: number, units: CommittedUnits) => void;
  /** Leases units at accept where the scheduler lent credits (core/accept/accept_lease.ts). */
  leaser?: AcceptLeaser | null;
  /** Most messages per transaction. */
  maxBatch?: number;
}

/** Group-committing front of the queue. */
export class Acceptor {
  #queue: Pick<Queue, "enqueue">;
  #pending: Pending[] = [];
  #flushing = false;
  #scheduled = false;
  #options: Required<Omit<AcceptorOptions, "leaser">>;
  #leaser: AcceptLeaser | null;

  constructor(queue: Pick<Queue, "enqueue">, options: AcceptorOptions = {}) {
    this.#queue = queue;
    this.#options = {
      commitWindowMs: options.commitWindowMs ?? 0,
      onCommitted: options.onCommitted ?? (() => {}),
      maxBatch: options.maxBatch ?? 500,
    };
    this.#leaser = options.leaser ?? null;
  }

  /** Resolves with the queue id once the message is durable; rejects if it could not be. */
  submit(message: NewMessage<MessageBytes>): Promise<string> {
    if (message.recipients.length === 0) {
      return Promise.reject(new Error("Cannot accept a message without recipients"));
    }
    return new Promise((resolve, reject) => {
      this.#pending.push({ message, resolve, reject });
      this.#schedule();
    });
  }

  #schedule() {
    if (this.#scheduled || this.#flushing) return;
    this.#scheduled = true;
    // A macrotask, not a microtask: lets every socket read already waiting join this batch.
    setTimeout(() => {
      this.#scheduled = false;
      this.#flush();
    }, this.#options.commitWindowMs);
  }

  async #flush() {
    if (this.#pending.length === 0) return;
    this.#flushing = true;
    const batch = this.#pending.splice(0, this.#options.maxBatch);
    const messages = batch.map((p) => p.message);
    const reserved = this.#leaser?.reserve(messages) ?? null;
    let durable = false;
    try {
      await this.#queue.enqueue(messages, reserved ? { lease: reserved.lease } : undefined);
      durable = true;
    } catch (error) {
      this.#leaser?.cancel(reserved);
      for (const p of batch) p.reject(error as Error);
    }
    // TEST ONLY (core/fault_points.ts): the thread dies between its commit and its report.
    if (durable && crashPoint("report", messages[0].recipients[0] ?? "")) return;
    try {
      if (durable) this.#committed(batch, reserved);
    } catch {
      // Durable and answered; a failing listener must not take the accept path down with it.
    } finally {
      this.#flushing = false;
    }
    if (this.#pending.length > 0) this.#schedule();
  }

  /** A batch is durable: its callers get their ids, the scheduler its units. */
  #committed(batch: Pending[], reserved: Reservation | null) {
    const messages = batch.map((p) => p.message);
    for (const p of batch) {
      metrics.inc("fastmta_messages_accepted_total", { channel: p.message.channel });
      p.resolve(p.message.id);
    }
    // The scheduler first: units leased here are nobody's until it has them.
    const leased = reserved ? this.#leaser!.leasedUnits(messages, reserved.lease) : [];
    this.#options.onCommitted(batch.length, { leased, allLeased: reserved?.complete ?? false });
    emitReceived(messages); // durable now; only buffered (core/events)
  }
}
