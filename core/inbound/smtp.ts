/**
 * The SMTP inbound channel: one server per configured listener
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
 * The protocol engine is `smtp.engine`: `fastmta`, our own (core/inbound/engine/), or
 * `smtp-server`, the npm library with core/inbound/connection_patch.ts; both call the same
 * handlers. In parts: smtp_options.ts (server options per listener), smtp_session.ts
 * (connect, TLS, AUTH, MAIL, RCPT), smtp_message.ts (DATA: limits, trace headers, accept),
 * smtp_replies.ts.
 *
 * Mail for bounce/feedback domains is taken from anyone and handed to the bounce processor (a
 * `BounceIntake`), never queued: 250 only once the report is stored.
 *
 * Talks to: SMTP clients (untrusted), core/accept, core/auth (users in the store).
 * Reads config: smtp.*, intake.max_header_fields, intake.max_header_line_length.
 */
import type { SMTPServerOptions, SMTPServerSession } from "smtp-server";
import type { Config, SmtpListener } from "../config/mod.ts";
import type { Acceptor, RelayPolicy } from "../accept/mod.ts";
import type { SmtpAuthenticator } from "../auth/mod.ts";
import { listenOn, SmtpEngine } from "./engine/mod.ts";
import type { Server } from "node:net";
import { ConnectionGauge, RateCounter, type SharedLimitsMemory } from "./shared_limits.ts";
import { dataHandler } from "./smtp_message.ts";
import { engineOptions, listenerOptions, patchOptionsOf } from "./smtp_options.ts";
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
  /**
   * Binds listeners that are new in `listeners` and closes those that are gone (their
   * sessions finish). A listener that cannot bind (port in use, address not on this host, bad
   * certificate) is left out and reported; the others, and the old state, stay.
   */
  reconcile(listeners: SmtpListener[]): Promise<ListenerProblem[]>;
  close(): Promise<void>;
}

/** A listener that could not be opened. */
export interface ListenerProblem {
  listener: string;
  error: string;
}

const keyOf = (l: SmtpListener) => `${l.host}:${l.port}`;

/** An open listener of either engine. */
interface Listening {
  close(): Promise<void>;
}

/** What decides a listener's server: a change of any of it re-opens the listener. */
const shapeOf = (l: SmtpListener) => JSON.stringify([l.mode, l.certificate ?? null]);

async function listenerTls(listener: SmtpListener, fallback: TlsPair): Promise<TlsPair> {
  if (!listener.certificate) return fallback;
  const { cert, key } = listener.certificate;
  const pair = { cert: await Deno.readTextFile(cert), key: await Deno.readTextFile(key) };
  if (!pair.cert.includes("-----BEGIN CERTIFICATE-----")) {
    throw new Error(`Cannot use TLS certificate "${cert}": no PEM certificate in it`);
  }
  return pair;
}

/**
 * Starts an SMTP server on every configured listener. With more than one worker each listener
 * is opened with SO_REUSEPORT, so the kernel spreads new connections over the workers. At
 * start a listener that cannot bind fails the worker (a node must not start half deaf); later
 * changes go through `reconcile`.
 */
export async function startSmtpInbound(
  config: Config,
  deps: SmtpInboundDeps,
): Promise<SmtpInbound> {
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
  const own = smtp.engine === "fastmta";
  // The npm engine only when chosen: the default's isolates need not hold the library.
  const lib = own ? undefined : await import("./smtp_server_lib.ts");
  lib?.patchSmtpConnection();
  const patch = patchOptionsOf(smtp);
  const onData = dataHandler(ctx, config, own);
  const open = async (listener: SmtpListener): Promise<Listening> => {
    const tls = await listenerTls(listener, deps.tls);
    // A client that fails the TLS handshake or drops mid-command surfaces here; it never
    // concerns other connections.
    const onError = (error: Error & { code?: string }) => {
      if (error.code === "ECONNRESET" || error.code === "EPIPE") return;
      log(`smtp ${listener.host}:${listener.port}: ${error.message}`);
    };
    const reusePort = smtp.workers > 1;
    if (own) {
      const engine = new SmtpEngine(engineOptions(smtp, listener, tls), {
        ...sessionHandlers(ctx, listener),
        onData,
      });
      engine.on("error", onError);
      await bind(engine.server, listener, reusePort);
      return { close: () => engine.close() };
    }
    const server = new lib!.SMTPServer({
      ...listenerOptions(smtp, listener, tls, patch),
      ...sessionHandlers(ctx, listener),
      onData: onData as unknown as SMTPServerOptions["onData"],
    });
    server.on("error", onError);
    await bind(server.server, listener, reusePort);
    return { close: () => new Promise<void>((r) => server.close(() => r())) };
  };
  const closeServer = (s: Listening) => s.close();

  const servers = new Map<string, { server: Listening; shape: string }>();
  try {
    for (const listener of smtp.listeners) {
      servers.set(keyOf(listener), { server: await open(listener), shape: shapeOf(listener) });
    }
  } catch (error) {
    await Promise.all([...servers.values()].map((s) => closeServer(s.server)));
    throw error;
  }
  return {
    reconcile: async (listeners) => {
      const wanted = new Map(listeners.map((l) => [keyOf(l), l]));
      const problems: ListenerProblem[] = [];
      for (const [key, entry] of servers) {
        const next = wanted.get(key);
        if (next && shapeOf(next) === entry.shape) continue;
        if (next) {
          // Changed mode or certificate: a certificate that cannot be read keeps the old one.
          try {
            await listenerTls(next, deps.tls);
          } catch (error) {
            problems.push({ listener: key, error: (error as Error).message });
            continue;
          }
        }
        servers.delete(key);
        await closeServer(entry.server);
        log(`smtp ${key}: closed`);
      }
      for (const [key, listener] of wanted) {
        if (servers.has(key)) continue;
        try {
          servers.set(key, { server: await open(listener), shape: shapeOf(listener) });
          log(`smtp ${key}: listening (${listener.mode})`);
        } catch (error) {
          problems.push({ listener: key, error: (error as Error).message });
        }
      }
      return problems;
    },
    close: async () => {
      await Promise.all([...servers.values()].map((s) => closeServer(s.server)));
    },
  };
}

/** Binds a listener's server, naming the listener when it cannot. */
async function bind(server: Server, listener: SmtpListener, reusePort: boolean): Promise<void> {
  await listenOn(server, listener.host, listener.port, reusePort).catch((error) => {
    throw new Error(`Cannot listen on "${keyOf(listener)}": ${(error as Error).message}`);
  });
}
