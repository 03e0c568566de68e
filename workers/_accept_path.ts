/**
 * The accepting side that the SMTP and inject workers share: a store connection for the accept
 * role (synchronous=FULL on SQLite), the queue in its accept role, and a group-committing
 * acceptor that tells the main thread about each durable batch.
 * Reads config: database, rabbitmq, smtp.group_commit_window.
 */
import { Acceptor } from "../core/accept/mod.ts";
import type { Config } from "../core/config/mod.ts";
import { openQueue, type Queue } from "../core/queue/mod.ts";
import { openStore, type SqlStore } from "../core/store/mod.ts";
import type { FromWorker } from "./protocol.ts";

/** An open accept path. */
export interface AcceptPath {
  store: SqlStore;
  queue: Queue;
  acceptor: Acceptor;
}

/** Opens the accept path; `post` sends to the main thread. */
export async function openAcceptPath(
  config: Config,
  post: (message: FromWorker) => void,
): Promise<AcceptPath> {
  const store = await openStore(config, "accept");
  const queue = await openQueue(config, store, {
    role: "accept",
    log: (line) => post({ type: "log", line }),
  });
  const acceptor = new Acceptor(queue, {
    commitWindowMs: config.smtp.group_commit_window,
    onCommitted: (count) => post({ type: "accepted", count }),
  });
  return { store, queue, acceptor };
}
