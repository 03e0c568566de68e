/**
 * The one function every stage calls to record an event: `emitEvent`. It only pushes onto this
 * thread's bounded buffer and returns; writing happens later, in batches, off the hot path
 * (a worker posts its buffer to the main thread once per flush, the main thread's hub writes
 * the accounting log and the webhook outbox). A thread without a sink (events off, tests,
 * CLI commands) drops events at no cost.
 */
import type { EventType, FastmtaEvent } from "../contracts/events.ts";
import { EVENT_FORMAT_VERSION } from "../contracts/events.ts";

/** Where this thread's events go. */
export interface EventSink {
  /** Takes one event; never blocks, never throws. */
  push(event: FastmtaEvent): void;
  /**
   * Whether any writer takes events of `type` now (absent: all). Emitters skip building the
   * others: with no writer configured, a 10-recipient message's ten outcome events cost
   * ~0.1 ms of CPU to build and drop.
   */
  wants?(type: EventType): boolean;
}

let sink: EventSink | null = null;
let node = "unknown";

/** Installs this thread's sink (null: events off); `nodeId` names the node in each event. */
export function setEventSink(next: EventSink | null, nodeId?: string): void {
  sink = next;
  if (nodeId !== undefined) node = nodeId;
}

/**
 * Whether events (of `type`, when given) are collected on this thread: skip building them when
 * not.
 */
export function eventsOn(type?: EventType): boolean {
  if (sink === null) return false;
  return type === undefined || sink.wants === undefined || sink.wants(type);
}

/** The fields of an event its emitter fills in (`v`, `id`, `node` and, by default, `at` are added). */
export type EventFields = Omit<FastmtaEvent, "v" | "id" | "node" | "at"> & { at?: number };

/**
 * Records one event of `type`. Returns at once; the event is written with the next batch, or
 * dropped (and counted) if this thread's buffer is full.
 */
export function emitEvent(fields: EventFields & { type: EventType }): void {
  if (!sink || (sink.wants !== undefined && !sink.wants(fields.type))) return;
  sink.push({
    v: EVENT_FORMAT_VERSION,
    id: crypto.randomUUID(),
    node,
    ...fields,
    at: fields.at ?? Date.now(),
  });
}
