/**
 * The event sink of a worker thread: a bounded buffer (events.buffer_size) whose flush posts
 * the whole batch to the main thread's hub in one message, at most every
 * `events.flush_interval`, never one message per event.
 */
import type { Config } from "../config/mod.ts";
import type { FastmtaEvent } from "../contracts/events.ts";
import { EventBuffer } from "./buffer.ts";
import { setEventSink } from "./emit.ts";

/** Installs this worker's sink (or none, when events are off); returns it for draining. */
export function startWorkerEvents(
  config: Pick<Config, "events" | "nodeId">,
  post: (events: FastmtaEvent[], dropped: number) => void,
): EventBuffer | null {
  if (!config.events.enabled) {
    setEventSink(null, config.nodeId);
    return null;
  }
  let reported = 0;
  const buffer: EventBuffer = new EventBuffer({
    capacity: config.events.buffer_size,
    flushMs: config.events.flush_interval,
    flush: (batch) => {
      post(batch, buffer.dropped - reported);
      reported = buffer.dropped;
    },
  });
  setEventSink(buffer, config.nodeId);
  return buffer;
}
