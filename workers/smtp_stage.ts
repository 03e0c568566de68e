/**
 * The SMTP acceptance stage (run by workers/smtp_worker.ts): owns its SMTP listening sockets (SO_REUSEPORT, shared with the other
 * SMTP workers) and one store connection (synchronous=FULL) for group-committing accepted
 * messages and looking up SMTP users. Reports each durable batch to the main thread so the
 * scheduler wakes up. Talks to: SMTP clients, the store, the other SMTP workers through shared
 * counters (connections per IP, rates), the queue (accept role). Reads config: smtp.*, database,
 * rabbitmq.
 */
import { relayPolicy } from "../core/accept/mod.ts";
import { loadSecretKey, SmtpAuthenticator } from "../core/auth/mod.ts";
// The files, not the whole folder: that would load mailparser and re2js into every SMTP isolate.
import { BounceReportProcessor } from "../core/bounce/reports.ts";
import { loadTokenKey } from "../core/bounce/tokens.ts";
import { startSmtpInbound } from "../core/inbound/smtp.ts";
import { loadTls } from "../core/inbound/tls.ts";
import { guardTlsUpgradeRace } from "../core/inbound/tls_upgrade_race.ts";
import { acceptStage } from "./_accept_stage.ts";

/** The SMTP stage: its listeners, authenticator and bounce-report processor on the accept path. */
export const smtpStage = acceptStage(
  async ({ config, smtpLimits, index }, { store, acceptor }, post) => {
    if (!smtpLimits) throw new Error("SMTP worker started without shared limits");
    const log = (line: string) => post({ type: "log", line });
    guardTlsUpgradeRace(log);
    const policy = relayPolicy(config.smtp.relay_networks, config.smtp.local_domains);
    const key = config.smtp.auth.mechanisms.includes("CRAM-MD5")
      ? (await loadSecretKey(config.smtp.authKeyFile, { create: true })).key
      : null;
    const authenticator = new SmtpAuthenticator(store, {
      key,
      cacheTtlMs: config.smtp.auth.cache_ttl,
      log,
    });
    // Mail for bounce/feedback domains: stored, parsed and applied here, never queued.
    const bounces = new BounceReportProcessor({
      store,
      config,
      key: await loadTokenKey(store),
      claimPrefix: `report:${config.nodeId.slice(0, 40)}:smtp-${index}:`,
      log,
    });
    bounces.start();
    const inbound = await startSmtpInbound(config, {
      acceptor,
      policy,
      authenticator,
      tls: await loadTls(config),
      limits: smtpLimits,
      worker: index,
      bounces,
      log,
    });
    return {
      close: async () => {
        await inbound.close();
        await bounces.stop();
      },
      // Listener objects changed (core/manage): bind the new, close the removed, report failures.
      reconfigure: async (parts) => {
        if (!parts.includes("smtp.listeners")) return;
        const problems = await inbound.reconcile(config.smtp.listeners);
        for (const p of problems) log(`cannot open listener ${p.listener}: ${p.error}`);
        post({ type: "listeners", problems });
      },
    };
  },
);
