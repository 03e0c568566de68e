/**
 * SMTP acceptance worker: owns its SMTP listening sockets (SO_REUSEPORT, shared with the other
 * SMTP workers) and one store connection (synchronous=FULL) for group-committing accepted
 * messages and looking up SMTP users. Reports each durable batch to the main thread so the
 * scheduler wakes up. Talks to: SMTP clients, the store, the other SMTP workers through shared
 * counters (connections per IP, rates), the queue (accept role). Reads config: smtp.*, database,
 * rabbitmq.
 */
/// <reference lib="deno.worker" />
import { relayPolicy } from "../core/accept/mod.ts";
import { loadSecretKey, SmtpAuthenticator } from "../core/auth/mod.ts";
import { type SmtpInbound, startSmtpInbound } from "../core/inbound/smtp.ts";
import { loadTls } from "../core/inbound/tls.ts";
import { applyLiveSettings } from "../core/cluster/live.ts";
import type { Config } from "../core/config/mod.ts";
import type { AcceptQueue } from "../core/queue/mod.ts";
import type { SqlStore } from "../core/store/mod.ts";
import { openAcceptPath } from "./_accept_path.ts";
import type { FromWorker, ToWorker } from "./protocol.ts";
import { startHeapBudget } from "../core/heap_budget.ts";

startHeapBudget();

let store: SqlStore | null = null;
let queue: AcceptQueue | null = null;
let liveConfig: Config | null = null;
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
      liveConfig = config;
      const accept = await openAcceptPath(config, post);
      ({ store, queue } = accept);
      const acceptor = accept.acceptor;
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
  } else if (message.type === "config") {
    if (liveConfig) applyLiveSettings(liveConfig, message.config);
  } else if (message.type === "stop") {
    await inbound?.close();
    await queue?.close();
    await store?.close();
    post({ type: "stopped" });
  }
};
