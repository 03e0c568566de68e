/**
 * A worker's structured log: lines gathered over one tick go to the main thread in one post
 * (the main thread's core/log.ts filters, formats and redacts them).
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
    if (records.length === 0) setTimeout(flush, 0);
    records.push({ line, level, fields });
  };
}
