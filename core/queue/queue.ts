/**
 * The durable queue of delivery units, as every stage sees it: the `Queue` interface both
 * implementations (embedded.ts, rabbitmq.ts) implement, and the narrower type each role's queue
 * has ({@link QueueFor}). Its own module so that they import the
 * interface, not the factory in mod.ts that imports them.
 */
import type {
  HeldOutcome,
  LeasedUnit,
  MessageBytes,
  NewMessage,
  UnitOutcome,
} from "../contracts/mod.ts";
import type { FailureRecord, UnitFailure } from "./failures.ts";
import type { AcceptLease } from "../store/mod.ts";

/** What a thread uses its queue for. */
export type QueueRole = "accept" | "schedule" | "deliver" | "operate";

/** How {@link Queue.enqueue} queues a batch. */
export interface EnqueueOptions {
  /**
   * Units to queue already leased to this node (only where {@link Queue.leasesAtAccept}):
   * the scheduler lent the credits for them (core/queue/lease_credits.ts).
   */
  lease?: AcceptLease | null;
}

/** The durable queue of delivery units. */
export interface Queue {
  /** Which implementation runs (for logs and status pages only; never branch on it). */
  readonly kind: "embedded" | "rabbitmq";
  /**
   * Whether `enqueue` can queue units already leased (the embedded queue: the lease is a
   * column of the unit's row), so the scheduler may lend accepting threads lease credits.
   */
  readonly leasesAtAccept?: boolean;
  /**
   * Makes a batch of accepted messages durable and queues their units (one group commit).
   * Resolves only once everything is durable; rejects if any of it may not be.
   */
  enqueue(messages: NewMessage<MessageBytes>[], options?: EnqueueOptions): Promise<void>;
  /** Takes up to `limit` units that are due now, each under a lease. */
  lease(limit: number): Promise<LeasedUnit[]>;
  /**
   * Records outcomes and queues deferred units again for their `retryAt`; returns how many
   * outcomes had lost their lease (recorded in the log only). Rejects if nothing was recorded.
   */
  settle(outcomes: UnitOutcome[]): Promise<number>;
  /**
   * On the leasing side: the units with these lease tokens were settled (or, with `requeue`,
   * abandoned and due again now).
   */
  release(tokens: string[], requeue: boolean): void;
  /**
   * Counts a handling failure (an exception while handling that unit, see core/queue/failures.ts)
   * on each unit still held by the failing lease: it is due again after a short backoff, or
   * quarantined at `queue.quarantine_after`. The leasing side still gets `release(…, true)`.
   * Rejects (nothing counted) when the database is away.
   */
  fail(failures: UnitFailure[]): Promise<FailureRecord[]>;
  /**
   * Releases a message's quarantined units (an operator's decision): due now, failure count
   * reset. Returns how many were released.
   */
  resume(messageId: string): Promise<number>;
  /**
   * An operator's "retry now": units waiting for a later attempt (not leased, recipients open)
   * become due now; RabbitMQ publishes their next copy first. Returns how many.
   */
  retryNow(unitIds: string[]): Promise<number>;
  /**
   * Takes queued units nobody holds under a lease for an outcome decided here (bounce now),
   * to be settled with `settle` like a delivery's; those taken.
   */
  claim(unitIds: string[]): Promise<LeasedUnit[]>;
  /**
   * Schedule role: settles units held before dispatch (a pause), no attempt used, due again
   * at each `until`; the leases are finished (RabbitMQ: the held copies acked).
   */
  hold(outcomes: HeldOutcome[]): Promise<void>;
  /**
   * Schedule role: starts taking units (RabbitMQ: starts consuming). Nothing is taken before,
   * so a node takes no unit before it can handle it.
   */
  startTaking(): Promise<void>;
  /**
   * Schedule role: takes no more units and returns those taken but not leased (RabbitMQ:
   * cancels the consumers and requeues what was pushed); resolves with how many went back.
   */
  stopTaking(): Promise<number>;
  /** Returns leased units that were not attempted: due again now, no attempt counted. */
  giveBack(units: { unitId: string; leaseToken: string }[]): Promise<void>;
  /**
   * Returns the units inserted leased at accept under a token starting with `prefix` (one
   * accepting thread's run, which ended) except those under one of `keep` (the scheduler
   * adopted them): due again now, no attempt counted; how many. Where `leasesAtAccept` only.
   */
  releaseAcceptLeases?(prefix: string, keep: string[]): Promise<number>;
  /**
   * Returns units taken before `before` and still not leased (held too long waiting for room)
   * to the queue; their ids. Nothing for a queue that is not pushed to.
   */
  returnWaiting(before: number): string[];
  /** Makes units left in flight by a previous run of this node due again; returns how many. */
  recover(): Promise<number>;
  /** The earliest time a unit may become due, or null when unknown or empty. */
  nextDueAt(): Promise<number | null>;
  /** Calls `listener` when units may have become available without being asked (pushed). */
  onAvailable(listener: () => void): void;
  /** Whether `enqueue` can succeed now (false while the broker is unreachable). */
  readonly ready: boolean;
  close(): Promise<void>;
}

/** What every role's queue has. */
export type QueueBase = Pick<Queue, "kind" | "ready" | "close">;

/**
 * The accept side (SMTP, inject and REST intake, `fastmta send`, `fastmta queue release`):
 * enqueues accepted messages and releases quarantined ones.
 */
export type AcceptQueue = QueueBase & Pick<Queue, "enqueue" | "resume" | "leasesAtAccept">;

/** The schedule side (the node's main thread): takes units, hands them out and back. */
export type ScheduleQueue =
  & QueueBase
  & Pick<Queue, "leasesAtAccept" | "releaseAcceptLeases">
  & Pick<
    Queue,
    | "lease"
    | "release"
    | "fail"
    | "resume"
    | "startTaking"
    | "stopTaking"
    | "giveBack"
    | "returnWaiting"
    | "recover"
    | "nextDueAt"
    | "onAvailable"
    | "hold"
    | "retryNow"
  >;

/**
 * The deliver side (a delivery worker): settles outcomes and counts handling failures; it
 * enqueues too, for the DSNs it generates.
 */
export type DeliverQueue = QueueBase & Pick<Queue, "settle" | "fail" | "enqueue">;

/**
 * The operator's side (core/manage: retry now, bounce now, release): claims and settles units
 * outside delivery, and enqueues the DSNs a bounce makes.
 */
export type OperateQueue =
  & QueueBase
  & Pick<Queue, "enqueue" | "settle" | "fail" | "resume" | "retryNow" | "claim">;

/** The queue type of each role: a role's queue has only that role's methods. */
export interface QueueRoles {
  accept: AcceptQueue;
  schedule: ScheduleQueue;
  deliver: DeliverQueue;
  operate: OperateQueue;
}

/** The queue type of role `R`. */
export type QueueFor<R extends QueueRole> = QueueRoles[R];

/** Options for {@link openQueue}. */
export interface OpenQueueOptions<R extends QueueRole = QueueRole> {
  role: R;
  log: (line: string) => void;
  /** Told of each unit the queue itself quarantined (the broker consumer: the "quarantined" event). */
  onQuarantined?: (record: { unitId: string; messageId: string; reason: string }) => void;
}
