/**
 * A worker's structured log: lines logged in one run of code (a settled batch's, say) go to the
 * main thread in one post, sent once that run's microtasks are done (a microtask, not a timer: a
 * setTimeout per batch cost ~2 µs); the main thread's core/log.ts filters, formats and redacts
 * them.
 */
import type { LogFields, LogLevel } from "../core/log.ts";
import type { FromWorker } from "./protocol.ts";

type LogRecord = { line: string; level: LogLevel; fields?: LogFields };

/** A logger that posts batches through `post`. */
export function batchedLog(post: (message: FromWorker) => void) {
  let records: LogRecord[] = [];
  const flush = () => {
    const batch = records;
    records = [];
    if (batch.length > 0) post({ type: "logs", records: batch });
  };
  return (line: string, fields: LogFields, level: LogLevel) => {
    if (records.length === 0) queueMicrotask(flush);
    records.push({ line, level, fields });
  };
}
