/**
 * A worker's accept path (core/accept/open.ts) reporting to the main thread: queue log lines,
 * and each durable batch as `accepted`, which wakes the scheduler.
 */
import { type AcceptPath, openAcceptPath as openPath } from "../core/accept/open.ts";
import type { Config } from "../core/config/mod.ts";
import type { FromWorker } from "./protocol.ts";

export type { AcceptPath };

/** Opens the accept path; `post` sends to the main thread. */
export function openAcceptPath(
  config: Config,
  post: (message: FromWorker) => void,
): Promise<AcceptPath> {
  return openPath(config, {
    log: (line) => post({ type: "log", line }),
    onCommitted: (count) => post({ type: "accepted", count }),
  });
}
