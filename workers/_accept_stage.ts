/**
 * The lifecycle every accepting stage shares (SMTP, inject): on `init` open the accept path
 * (core/accept/open.ts: store, queue in its accept role, acceptor) reporting to the main thread,
 * start the stage's channel on it and say `ready` (or `fatal`); on `config` apply the live
 * settings and the managed parts (the channel rebuilds what depends on them); on `stop` close
 * the channel, then the queue, then the store, and say `stopped`. The port and the isolate
 * services come from where the stage runs (workers/_stage.ts).
 */
import { type AcceptPath, leaseTokenPrefix, openAcceptPath } from "../core/accept/open.ts";
import { applyLiveSettings, applyManagedParts } from "../core/cluster/live.ts";
import type { Config } from "../core/config/mod.ts";
import type { FromWorker, ToWorker } from "./protocol.ts";
import type { EventBuffer } from "../core/events/mod.ts";
import type { Stage } from "./_stage.ts";

/** The `init` message a stage starts from. */
export type InitMessage = Extract<ToWorker, { type: "init" }>;

/** What a stage's channel gives back once started: a way to stop taking mail. */
export interface AcceptChannel {
  close(): Promise<void>;
  /** The managed parts of the config changed in place (e.g. "smtp.listeners"). */
  reconfigure?(parts: string[]): Promise<void>;
}

/** Sends a message to the main thread over the stage's port. */
export type Post = (message: FromWorker) => void;

/**
 * An accepting stage: `startChannel` starts taking mail into `accept.acceptor` (its store, for
 * lookups such as SMTP users, is `accept.store`), reporting through `post`.
 */
export function acceptStage(
  startChannel: (init: InitMessage, accept: AcceptPath, post: Post) => Promise<AcceptChannel>,
): Stage {
  return (port, isolate) => {
    const post: Post = (message) => port.postMessage(message);
    let accept: AcceptPath | null = null;
    let channel: AcceptChannel | null = null;
    let liveConfig: Config | null = null;
    let events: EventBuffer | null = null;
    port.onmessage = async (event: MessageEvent<ToWorker>) => {
      const message = event.data;
      if (message.type === "init") {
        try {
          liveConfig = message.config;
          events = isolate.startEvents(message.config);
          const credits = message.leaseCredits
            ? {
              memory: message.leaseCredits,
              thread: message.index,
              tokenPrefix: leaseTokenPrefix(
                message.leaseRun ?? "0",
                message.index,
                message.generation ?? 0,
              ),
            }
            : undefined;
          accept = await openAcceptPath(message.config, {
            log: (line) => post({ type: "log", line }),
            onCommitted: (count, { leased, allLeased }) =>
              post(
                leased.length > 0
                  ? { type: "accepted", count, leased, allLeased }
                  : { type: "accepted", count },
              ),
          }, credits);
          channel = await startChannel(message, accept, post);
          post({ type: "ready" });
        } catch (error) {
          post({ type: "fatal", error: (error as Error).message });
        }
      } else if (message.type === "events-wanted") {
        events?.setWanted(message.types);
      } else if (message.type === "config") {
        if (liveConfig) {
          applyLiveSettings(liveConfig, message.config);
          const parts = applyManagedParts(liveConfig, message.config);
          if (parts.length > 0) await channel?.reconfigure?.(parts);
        }
      } else if (message.type === "stop") {
        await channel?.close();
        await events?.drain(); // the last events, before "stopped"
        await accept?.queue.close();
        await accept?.store.close();
        isolate.flushMetrics();
        post({ type: "stopped" });
      }
    };
  };
}
