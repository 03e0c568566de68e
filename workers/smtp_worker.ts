/**
 * SMTP acceptance worker: owns the SMTP listeners and one store connection (synchronous=FULL)
 * for group-committing accepted messages. Reports each durable batch to the main thread so the
 * scheduler wakes up. Talks to: SMTP clients, the store. Reads config: smtp.*, database.
 */
/// <reference lib="deno.worker" />
import { Acceptor, relayPolicy } from "../core/accept/mod.ts";
import { type SmtpInbound, startSmtpInbound } from "../core/inbound/smtp.ts";
import { openStore, type Store } from "../core/store/mod.ts";
import type { FromWorker, ToWorker } from "./protocol.ts";

let store: Store | null = null;
let inbound: SmtpInbound | null = null;

function post(message: FromWorker) {
  self.postMessage(message);
}

self.onmessage = async (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (message.type === "init") {
    try {
      const { config } = message;
      store = await openStore(config, "accept");
      const acceptor = new Acceptor(store, {
        commitWindowMs: config.smtp.group_commit_window,
        onCommitted: (count) => post({ type: "accepted", count }),
      });
      const policy = relayPolicy(config.smtp.relay_networks, config.smtp.local_domains);
      inbound = await startSmtpInbound(
        config,
        acceptor,
        policy,
        (line) => post({ type: "log", line }),
      );
      post({ type: "ready" });
    } catch (error) {
      post({ type: "fatal", error: (error as Error).message });
    }
  } else if (message.type === "stop") {
    await inbound?.close();
    await store?.close();
    post({ type: "stopped" });
  }
};
