/**
 * The database outbox: applications INSERT a row into `outbox` (its payload one inject v1 JSON
 * document, README "Outbox table") in their own transaction, and every node with
 * `outbox.enabled` polls the table. A poll claims rows (core/store/outbox.ts), validates each payload
 * with the inject format's own parser, submits the message through core/accept, and marks the
 * row `accepted` with the queue id only after the submit resolved, i.e. once the message is
 * durable. A payload that cannot be accepted as it is ends `failed` with the reason and is never
 * tried again; a temporary failure (database or broker away) puts the row back to `new` for a
 * later poll. At-least-once: a node that dies between the durable accept and the mark leaves the
 * row `claimed`, and once the claim is older than `outbox.claim_timeout` a poll takes it again.
 *
 * Trust: whoever may insert into the table may send anywhere (no relay check).
 * Runs on the main thread of `serve`. Talks to: the store (outbox table), core/accept. Reads
 * config: outbox.*, smtp.hostname, smtp.max_message_size, smtp.max_recipients,
 * smtp.max_header_size, intake.*, smtp.group_commit_window (and database, rabbitmq for its
 * accept path).
 */
import type { Acceptor } from "../accept/mod.ts";
import { type AcceptPathEvents, openAcceptPath } from "../accept/open.ts";
import type { Config } from "../config/mod.ts";
import type { NewMessage } from "../contracts/mod.ts";
import {
  injectedMessage,
  injectLimitsOf,
  type ParsedInject,
  parseInject,
} from "./inject_format.ts";
import type { OutboxClaim, OutboxOutcomes, OutboxStore } from "../store/mod.ts";

/** Payload bytes one poll reads into memory at once (or one row, if larger). */
const GROUP_BYTES = 16 * 1024 * 1024;
/** How often `accepted` rows older than `outbox.keep` are deleted. */
const PRUNE_EVERY_MS = 60_000;
/** Rows one prune step looks at; a prune takes at most ten steps. */
const PRUNE_ROWS = 1_000;

/** Where the poller reports (a durable batch wakes the scheduler). */
export type OutboxEvents = AcceptPathEvents;

/** A running outbox poller. */
export interface OutboxPoller {
  /** Finishes the rows in hand, then closes its store connection and queue. */
  stop(): Promise<void>;
}

/**
 * Opens an accept path of its own (a store connection in the accept role, synchronous=FULL on
 * SQLite, and the queue in its accept role) and polls the outbox table until stopped.
 */
export async function startOutboxPoller(
  config: Config,
  events: OutboxEvents,
): Promise<OutboxPoller> {
  const { store, queue, acceptor } = await openAcceptPath(config, events);
  const loop = new OutboxLoop({
    rows: store,
    acceptor,
    ready: () => queue.ready,
    config,
    log: events.log,
  });
  return {
    async stop() {
      await loop.stop();
      await queue.close();
      await store.close();
    },
  };
}

/**
 * Resolves in a later task of the event loop, so that each batch's writes start at the top of a
 * task and the thread's other work (timers, HTTP, worker messages) runs between batches. (The
 * stall this once also avoided — a write meeting the write lock of another connection of this
 * thread — cannot happen any more: a thread's stores share one SQLite connection, see
 * core/store/sqlite_thread_connection.ts.)
 */
function nextTask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function noOutcomes(): OutboxOutcomes {
  return { accepted: [], failed: [], released: [] };
}

/** Claims split so that each group's payloads add up to at most `maxBytes` (or one row). */
function byteGroups(claims: OutboxClaim[], maxBytes: number): OutboxClaim[][] {
  const groups: OutboxClaim[][] = [];
  let current: OutboxClaim[] = [];
  let bytes = 0;
  for (const claim of claims) {
    if (current.length > 0 && bytes + claim.size > maxBytes) {
      groups.push(current);
      current = [];
      bytes = 0;
    }
    current.push(claim);
    bytes += claim.size;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/** The message accept takes: our `Received:` header, then the raw or composed message. */
export function outboxMessage(
  parsed: Extract<ParsedInject, { ok: true }>,
  options: { rowId: number; hostname: string; maxSize: number; now?: number },
): NewMessage {
  const message = injectedMessage(parsed, {
    ...options,
    source: { from: `outbox (row ${options.rowId})`, protocol: "SQL" },
  });
  return {
    ...message,
    channel: "outbox",
    meta: { ...parsed.message.meta, outbox_id: options.rowId },
  };
}

/** The poll loop: one poll at a time, back to back while rows come, else every poll_interval. */
class OutboxLoop {
  #rows: OutboxStore;
  #acceptor: Pick<Acceptor, "submit">;
  #ready: () => boolean;
  #config: Config;
  #log: (line: string) => void;
  #stopping = false;
  #wake: (() => void) | null = null;
  #done: Promise<void>;
  /** Outcomes not written yet (kept when the database failed after an accept). */
  #unwritten = noOutcomes();
  /** Polls that failed in a row (only the first of a streak is logged). */
  #failures = 0;
  #prunedAt = 0;

  constructor(options: {
    rows: OutboxStore;
    acceptor: Pick<Acceptor, "submit">;
    /** Whether the queue can take messages now (false while the broker is unreachable). */
    ready: () => boolean;
    config: Config;
    log: (line: string) => void;
  }) {
    this.#rows = options.rows;
    this.#acceptor = options.acceptor;
    this.#ready = options.ready;
    this.#config = options.config;
    this.#log = options.log;
    this.#done = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    await this.#done;
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      let more = false;
      try {
        more = await this.#poll();
        if (this.#failures > 0) this.#log(`polling again after ${this.#failures} failed polls`);
        this.#failures = 0;
      } catch (error) {
        if (this.#failures++ === 0) {
          const every = this.#config.outbox.poll_interval;
          this.#log(`${(error as Error).message} (trying again every ${every} ms)`);
        }
      }
      if (!more) await this.#sleep(this.#config.outbox.poll_interval);
    }
    try {
      await nextTask();
      await this.#write();
    } catch (error) {
      const { accepted } = this.#unwritten;
      if (accepted.length > 0) {
        this.#log(
          `cannot mark ${accepted.length} accepted rows (${(error as Error).message}): they ` +
            `will be accepted again once their claim is older than outbox.claim_timeout`,
        );
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    if (this.#stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }

  /** One poll; true when it took rows and had no temporary failure (poll again at once). */
  async #poll(): Promise<boolean> {
    await nextTask();
    await this.#write().catch((error) => {
      throw new Error(`cannot mark outbox rows: ${(error as Error).message}`);
    });
    // Rows claimed now would only be released again: leave them to nodes that can accept.
    if (!this.#ready()) throw new Error("cannot accept outbox rows yet: the broker is unreachable");
    const now = Date.now();
    await this.#prune(now);
    const { batch, claim_timeout } = this.#config.outbox;
    let claims: OutboxClaim[];
    try {
      claims = await this.#rows.claimOutbox({
        node: this.#config.nodeId,
        now,
        limit: batch,
        staleBefore: now - claim_timeout,
      });
    } catch (error) {
      throw new Error(`cannot claim outbox rows: ${(error as Error).message}`);
    }
    if (claims.length === 0) return false;

    const groups = byteGroups(claims, GROUP_BYTES);
    let temporary: Error | null = null;
    for (let i = 0; i < groups.length; i++) {
      if (this.#stopping || temporary) {
        // Not started: back to `new` for this node's next poll or another node.
        this.#unwritten.released.push(...groups[i].map((c) => c.id));
        continue;
      }
      try {
        temporary = await this.#acceptGroup(groups[i]);
      } catch (error) {
        temporary = error as Error;
        this.#unwritten.released.push(...groups[i].map((c) => c.id));
      }
    }
    await nextTask();
    await this.#write().catch((error) => {
      throw new Error(`cannot mark outbox rows: ${(error as Error).message}`);
    });
    if (temporary) throw new Error(`cannot accept outbox rows yet: ${temporary.message}`);
    return true;
  }

  /**
   * Reads, validates and submits one group of claimed rows; their outcomes go to `#unwritten`.
   * Returns the error of a submit that failed for a temporary reason, else null.
   */
  async #acceptGroup(group: OutboxClaim[]): Promise<Error | null> {
    const payloads = await this.#rows.outboxPayloads(group.map((c) => c.id));
    const limits = injectLimitsOf(this.#config);
    const outcomes = this.#unwritten;
    let temporary: Error | null = null;
    const submits: Promise<void>[] = [];
    for (const { id } of group) {
      const payload = payloads.get(id);
      payloads.delete(id);
      if (payload === undefined) continue; // deleted by the application meanwhile
      const parsed = parseInject(payload, limits);
      if (!parsed.ok) {
        outcomes.failed.push({ id, error: parsed.reason });
        this.#log(`row ${id} failed: ${parsed.reason}`);
        continue;
      }
      let message: NewMessage;
      try {
        message = outboxMessage(parsed, {
          rowId: id,
          hostname: this.#config.smtp.hostname,
          maxSize: this.#config.smtp.max_message_size,
        });
      } catch (error) {
        // Too large once composed, or breaks composing: trying it again would do the same.
        outcomes.failed.push({ id, error: (error as Error).message });
        continue;
      }
      // All of the group are submitted together so that they share one group commit.
      submits.push(
        this.#acceptor.submit(message).then(
          (messageId) => void outcomes.accepted.push({ id, messageId }),
          (error) => {
            temporary = error as Error;
            outcomes.released.push(id);
          },
        ),
      );
    }
    await Promise.all(submits);
    return temporary;
  }

  /** Writes the outcomes held in memory; they are kept if the database fails. */
  async #write(): Promise<void> {
    const outcomes = this.#unwritten;
    if (outcomes.accepted.length + outcomes.failed.length + outcomes.released.length === 0) return;
    await this.#rows.finishOutbox(outcomes, Date.now());
    this.#unwritten = noOutcomes();
  }

  /** Deletes `accepted` rows older than `outbox.keep`, at most once a minute. */
  async #prune(now: number): Promise<void> {
    const keep = this.#config.outbox.keep;
    if (keep <= 0 || now - this.#prunedAt < PRUNE_EVERY_MS) return;
    this.#prunedAt = now;
    let deleted = 0;
    try {
      for (let step = 0; step < 10; step++) {
        const n = await this.#rows.pruneOutbox(now - keep, PRUNE_ROWS);
        deleted += n;
        if (n < PRUNE_ROWS) break;
      }
    } catch (error) {
      this.#log(`cannot delete old accepted rows: ${(error as Error).message}`);
    }
    if (deleted > 0) this.#log(`deleted ${deleted} accepted rows older than outbox.keep`);
  }
}
