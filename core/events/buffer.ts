/**
 * A bounded buffer of events with a flush timer: events wait at most `flushMs` (or until
 * `maxBatch` are waiting) and are then handed to `flush` as one batch. When `capacity` events
 * are waiting (the writer is slow or away), new events are dropped and counted: acceptance and
 * delivery never wait for events. Only one flush runs at a time; the next waits for it.
 */
import type { EventType, FastmtaEvent } from "../contracts/events.ts";
import type { EventSink } from "./emit.ts";

/** Options for an {@link EventBuffer}. */
export interface EventBufferOptions {
  /** Most events waiting; beyond it new ones are dropped (and counted). */
  capacity: number;
  /** Longest wait before a flush. */
  flushMs: number;
  /** A flush starts at once when this many are waiting. */
  maxBatch?: number;
  /** Writes one batch; a rejection keeps nothing (the writer retries on its own side). */
  flush(batch: FastmtaEvent[]): Promise<void> | void;
  /** Told when events start being dropped, and how many so far (once per burst). */
  onDrop?(dropped: number): void;
}

/** See the module comment. */
export class EventBuffer implements EventSink {
  #events: FastmtaEvent[] = [];
  #o: Required<EventBufferOptions>;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #flushing: Promise<void> | null = null;
  #dropping = false;
  /** Events dropped because the buffer was full, since start. */
  dropped = 0;
  /** Events taken, since start. */
  taken = 0;
  /** The types a writer takes (null: all, until the hub says otherwise). */
  #wanted: ReadonlySet<string> | null = null;

  constructor(options: EventBufferOptions) {
    this.#o = { maxBatch: 1_000, onDrop: () => {}, ...options };
  }

  /** Events waiting now. */
  get size(): number {
    return this.#events.length;
  }

  /** Whether a writer takes events of `type` (the emitters skip building the others). */
  wants(type: EventType): boolean {
    return this.#wanted === null || this.#wanted.has(type);
  }

  /** What the main thread's hub says its writers take now (null: all). */
  setWanted(types: readonly EventType[] | null): void {
    this.#wanted = types === null ? null : new Set(types);
  }

  push(event: FastmtaEvent): void {
    if (this.#events.length >= this.#o.capacity) {
      this.dropped++;
      if (!this.#dropping) {
        this.#dropping = true;
        this.#o.onDrop(this.dropped);
      }
      return;
    }
    this.#dropping = false;
    this.taken++;
    this.#events.push(event);
    if (this.#events.length >= this.#o.maxBatch && !this.#flushing) this.#flushSoon(0);
    else if (this.#timer === null && !this.#flushing) this.#flushSoon(this.#o.flushMs);
  }

  /** Writes everything waiting now (and waits for a flush in progress); for shutdown. */
  async drain(): Promise<void> {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    while (this.#flushing || this.#events.length > 0) {
      await (this.#flushing ?? this.#flush());
    }
  }

  #flushSoon(ms: number) {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#flush();
    }, ms);
  }

  #flush(): Promise<void> {
    const batch = this.#events;
    this.#events = [];
    if (batch.length === 0) return Promise.resolve();
    this.#flushing = (async () => {
      try {
        await this.#o.flush(batch);
      } catch {
        // The writer reports its own trouble; events it could not take are counted there.
      } finally {
        this.#flushing = null;
      }
      if (this.#events.length > 0) {
        this.#flushSoon(this.#events.length >= this.#o.maxBatch ? 0 : this.#o.flushMs);
      }
    })();
    return this.#flushing;
  }
}
