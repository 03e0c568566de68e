/**
 * A thread's accepting side, shared by every channel that accepts mail (SMTP and inject workers,
 * the REST API on the main thread): a store connection for the accept role (synchronous=FULL on
 * SQLite), the queue in its accept role, and a group-committing acceptor that reports each
 * durable batch (the scheduler is woken with it).
 * Reads config: database, rabbitmq, smtp.group_commit_window.
 */
import type { Config } from "../config/mod.ts";
import type { NewMessage } from "../contracts/mod.ts";
import { type AcceptQueue, openQueue } from "../queue/mod.ts";
import { openStore, type SqlStore } from "../store/mod.ts";
import { LeaseCreditTaker } from "../queue/lease_credits.ts";
import { AcceptLeaser } from "./accept_lease.ts";
import { Acceptor, type CommittedUnits } from "./mod.ts";

/** An open accept path. */
export interface AcceptPath {
  store: SqlStore;
  queue: AcceptQueue;
  acceptor: Acceptor;
}

/** Where an accept path reports. */
export interface AcceptPathEvents {
  /** A queue log line (broker connection changes). */
  log: (line: string) => void;
  /** A batch of `count` messages is durable; `units` says which were leased at accept. */
  onCommitted: (count: number, units: CommittedUnits) => void;
}

/** The scheduler's lease credits (core/queue/lease_credits.ts) and this thread's slot. */
export interface AcceptLeaseCredits {
  memory: SharedArrayBuffer;
  thread: number;
  /** Starts this run's lease tokens (see {@link leaseTokenPrefix}). */
  tokenPrefix?: string;
}

/**
 * The lease-token prefix of run `generation` of accepting thread `thread` in the node process
 * `processRun`: the main thread returns what a crashed run leased by it.
 */
export function leaseTokenPrefix(processRun: string, thread: number, generation: number): string {
  return `${processRun}.${thread}.${generation}.`;
}

/** Opens the accept path; closes what it opened if it cannot finish. */
export async function openAcceptPath(
  config: Config,
  events: AcceptPathEvents,
  credits?: AcceptLeaseCredits,
): Promise<AcceptPath> {
  const store = await openStore(config, "accept");
  let queue: AcceptQueue;
  try {
    queue = await openQueue(config, store, { role: "accept", log: events.log });
  } catch (error) {
    await store.close().catch(() => {});
    throw error;
  }
  // Only a queue that stores leases in the unit's row can insert them leased.
  const leaser = credits && queue.leasesAtAccept ? acceptLeaser(config, credits) : null;
  const acceptor = new Acceptor(queue, {
    commitWindowMs: config.smtp.group_commit_window,
    onCommitted: events.onCommitted,
    leaser,
  });
  return { store, queue, acceptor };
}

/** The leaser on `credits`; none (units queued unleased, as before) if this thread has no slot. */
function acceptLeaser(config: Config, credits: AcceptLeaseCredits): AcceptLeaser | null {
  try {
    const taker = new LeaseCreditTaker(credits.memory, credits.thread);
    return new AcceptLeaser(taker, config, credits.tokenPrefix);
  } catch {
    return null;
  }
}

/**
 * An accept path opened on the first message and kept until `close`: for a thread where
 * accepting is occasional (the REST API on the main thread), so a node that never gets such a
 * message opens no second connection. A failed open is tried again by the next message.
 */
export class LazyAcceptPath {
  #config: Config;
  #events: AcceptPathEvents;
  #opening: Promise<AcceptPath> | null = null;
  #closed = false;

  constructor(config: Config, events: AcceptPathEvents) {
    this.#config = config;
    this.#events = events;
  }

  /** Resolves with the queue id once the message is durable (see `Acceptor.submit`). */
  async submit(message: NewMessage): Promise<string> {
    if (this.#closed) throw new Error("Cannot accept: the node is shutting down");
    this.#opening ??= openAcceptPath(this.#config, this.#events).catch((error) => {
      this.#opening = null;
      throw error;
    });
    const path = await this.#opening;
    return await path.acceptor.submit(message);
  }

  /** Refuses further messages and closes the path if it was opened. */
  async close(): Promise<void> {
    this.#closed = true;
    const opening = this.#opening;
    this.#opening = null;
    const path = await opening?.catch(() => null);
    if (!path) return;
    await path.queue.close();
    await path.store.close();
  }
}
