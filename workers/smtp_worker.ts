/**
 * SMTP acceptance worker: owns its SMTP listening sockets (SO_REUSEPORT, shared with the other
 * SMTP workers) and one store connection (synchronous=FULL) for group-committing accepted
 * messages and looking up SMTP users. Reports each durable batch to the main thread so the
 * scheduler wakes up. Talks to: SMTP clients, the store, the other SMTP workers through shared
 * counters (connections per IP, rates). Reads config: smtp.*, database.
 */
/// <reference lib="deno.worker" />
import { Acceptor, relayPolicy } from "../core/accept/mod.ts";
import { loadSecretKey, SmtpAuthenticator } from "../core/auth/mod.ts";
import { type SmtpInbound, startSmtpInbound } from "../core/inbound/smtp.ts";
import { loadTls } from "../core/inbound/tls.ts";
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
      const { config, smtpLimits } = message;
      if (!smtpLimits) throw new Error("SMTP worker started without shared limits");
      const log = (line: string) => post({ type: "log", line });
      store = await openStore(config, "accept");
      const acceptor = new Acceptor(store, {
        commitWindowMs: config.smtp.group_commit_window,
        onCommitted: (count) => post({ type: "accepted", count }),
      });
      const policy = relayPolicy(config.smtp.relay_networks, config.smtp.local_domains);
      const key = config.smtp.auth.mechanisms.includes("CRAM-MD5")
        ? (await loadSecretKey(config.smtp.authKeyFile, { create: true })).key
        : null;
      const authenticator = new SmtpAuthenticator(store, {
        key,
        cacheTtlMs: config.smtp.auth.cache_ttl,
        log,
      });
      inbound = await startSmtpInbound(config, {
        acceptor,
        policy,
        authenticator,
        tls: await loadTls(config),
        limits: smtpLimits,
        worker: message.index,
        log,
      });
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
