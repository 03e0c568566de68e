/**
 * The SMTP inbound channel on npm `smtp-server`: one server per configured listener
 * (`smtp` on 25: relay by policy; `submission` on 587: STARTTLS then AUTH; `smtps` on 465:
 * implicit TLS then AUTH). Reads the envelope and the message, applies the relay policy and
 * per-user limits, prepends `Received:` (and `Message-ID:` when missing) and hands the message
 * to `core/accept`. It answers 250 (with the queue id) only after accept says it is durable.
 *
 * Hostile clients: per-IP connection limit across workers, per-worker connection limit, error
 * limit, command line length, idle timeout, per-command deadline (slow loris), recipient and
 * header-section limits (size, fields, line length: core/inbound/header_limits.ts), failed-AUTH
 * throttling per IP. Nothing a client sends can throw out of a handler: every handler answers
 * with an SMTP reply.
 *
 * In parts: smtp_options.ts (server options per listener), smtp_session.ts (connect, TLS, AUTH,
 * MAIL, RCPT), smtp_message.ts (DATA: limits, trace headers, accept), smtp_replies.ts.
 *
 * Mail for bounce/feedback domains is taken from anyone and handed to the bounce processor (a
 * `BounceIntake`), never queued: 250 only once the report is stored.
 *
 * Talks to: SMTP clients (untrusted), core/accept, core/auth (users in the store).
 * Reads config: smtp.*, intake.max_header_fields, intake.max_header_line_length.
 */
import { SMTPServer, type SMTPServerSession } from "smtp-server";
import type { Config, SmtpListener } from "../config/mod.ts";
import type { Acceptor, RelayPolicy } from "../accept/mod.ts";
import type { SmtpAuthenticator } from "../auth/mod.ts";
import { patchSmtpConnection } from "./connection_patch.ts";
import { ConnectionGauge, RateCounter, type SharedLimitsMemory } from "./shared_limits.ts";
import { dataHandler } from "./smtp_message.ts";
import { listenerOptions, patchOptionsOf } from "./smtp_options.ts";
import {
  type BounceIntake,
  sessionHandlers,
  type SessionState,
  type SmtpContext,
} from "./smtp_session.ts";
import type { TlsPair } from "./tls.ts";

/** Everything the channel needs besides the config. */
export interface SmtpInboundDeps {
  acceptor: Acceptor;
  policy: RelayPolicy;
  authenticator: SmtpAuthenticator;
  tls: TlsPair;
  limits: SharedLimitsMemory;
  /** This worker's index (its row in the shared connection counts). */
  worker: number;
  /** Mail for bounce/feedback domains (core/bounce's report processor). */
  bounces?: BounceIntake;
  log: (line: string) => void;
}

/** A running SMTP listener set. */
export interface SmtpInbound {
  close(): Promise<void>;
}

/**
 * Starts an SMTP server on every configured listener. With more than one worker each listener
 * is opened with SO_REUSEPORT, so the kernel spreads new connections over the workers.
 */
export async function startSmtpInbound(
  config: Config,
  deps: SmtpInboundDeps,
): Promise<SmtpInbound> {
  patchSmtpConnection();
  const { smtp } = config;
  const { log } = deps;
  const ctx: SmtpContext = {
    smtp,
    acceptor: deps.acceptor,
    policy: deps.policy,
    authenticator: deps.authenticator,
    gauge: new ConnectionGauge(deps.limits, deps.worker),
    rates: new RateCounter(deps.limits),
    states: new WeakMap<SMTPServerSession, SessionState>(),
    bounces: deps.bounces,
    log,
  };
  const patch = patchOptionsOf(smtp);
  const onData = dataHandler(ctx, config);
  const createServer = (listener: SmtpListener) =>
    new SMTPServer({
      ...listenerOptions(smtp, listener, deps.tls, patch),
      ...sessionHandlers(ctx, listener),
      onData,
    });

  const servers: SMTPServer[] = [];
  try {
    for (const listener of smtp.listeners) {
      const server = createServer(listener);
      // A client that fails the TLS handshake or drops mid-command surfaces here; it never
      // concerns other connections.
      server.on("error", (error: Error & { code?: string }) => {
        if (error.code === "ECONNRESET" || error.code === "EPIPE") return;
        log(`smtp ${listener.host}:${listener.port}: ${error.message}`);
      });
      servers.push(server);
      await listen(server, listener, smtp.workers > 1);
    }
  } catch (error) {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    throw error;
  }
  return {
    close: async () => {
      await Promise.all(
        servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
      );
    },
  };
}

function listen(server: SMTPServer, listener: SmtpListener, reusePort: boolean): Promise<void> {
  const { host, port } = listener;
  return new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.server.once("error", onError);
    // Node's (and Deno's node:net) `reusePort` sets SO_REUSEPORT: every worker opens its own
    // listening socket on the same address and the kernel balances new connections.
    server.server.listen({ port, host, reusePort } as { port: number; host: string }, () => {
      server.server.off("error", onError);
      resolve();
    });
  }).catch((error) => {
    throw new Error(`Cannot listen on "${host}:${port}": ${(error as Error).message}`);
  });
}
