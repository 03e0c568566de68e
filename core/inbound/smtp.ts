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
 * Talks to: SMTP clients (untrusted), core/accept, core/auth (users in the store).
 * Reads config: smtp.*, intake.max_header_fields, intake.max_header_line_length.
 */
import { releaseBytes } from "../bytes.ts";
import {
  SMTPServer,
  type SMTPServerAddress,
  type SMTPServerAuthentication,
  type SMTPServerOptions,
  type SMTPServerSession,
} from "smtp-server";
import type { Config, SmtpListener } from "../config/mod.ts";
import { type Acceptor, newQueueId, type RelayPolicy } from "../accept/mod.ts";
import type { SmtpAuthenticator } from "../auth/mod.ts";
import { domainOf, encodeXtext, receivedHeader } from "../mail/mod.ts";
import { type ConnectionPatchOptions, patchSmtpConnection } from "./connection_patch.ts";
import { ConnectionGauge, RateCounter, type SharedLimitsMemory } from "./shared_limits.ts";
import { MessageCollector, messageIdHeader } from "./message.ts";
import { type HeaderLimits, headerLimitsOf, type HeaderProblem } from "./header_limits.ts";
import type { TlsPair } from "./tls.ts";

type ResponseError = Error & { responseCode?: number };

function smtpError(code: number, text: string): ResponseError {
  const error: ResponseError = new Error(text);
  error.responseCode = code;
  return error;
}

/**
 * The reply to a message whose header section breaks a limit: 552 5.3.4 for its size or number
 * of fields (too big for us, RFC 3463), 554 5.6.0 for a line over the RFC 5322 limit (content we
 * cannot carry). The session goes on; the client may send the next message.
 */
function headerRefusal(problem: HeaderProblem, limits: HeaderLimits): ResponseError {
  switch (problem) {
    case "size":
      return smtpError(552, `5.3.4 Error: message header section exceeds ${limits.maxBytes} bytes`);
    case "fields":
      return smtpError(
        552,
        `5.3.4 Error: message header has more than ${limits.maxFields} fields`,
      );
    case "line":
      return smtpError(
        554,
        `5.6.0 Error: message header line longer than ${limits.maxLineLength} octets`,
      );
  }
}

/** What this channel remembers per connection, beside the library's session. */
interface SessionState {
  listener: SmtpListener;
  ipSlot: string | null;
  user: { name: string; maxRecipients: number; maxPerMinute: number } | null;
}

/** Everything the channel needs besides the config. */
export interface SmtpInboundDeps {
  acceptor: Acceptor;
  policy: RelayPolicy;
  authenticator: SmtpAuthenticator;
  tls: TlsPair;
  limits: SharedLimitsMemory;
  /** This worker's index (its row in the shared connection counts). */
  worker: number;
  log: (line: string) => void;
}

/** A running SMTP listener set. */
export interface SmtpInbound {
  close(): Promise<void>;
}

const MINUTE = 60_000;
/** Commands nobody needs (smtp-server's sendmail jokes, proxy commands we never trust). */
const DISABLED = ["WIZ", "SHELL", "KILL", "XCLIENT", "XFORWARD"];

function clientIp(session: SMTPServerSession): string {
  return session.remoteAddress.replace(/^::ffff:/i, "");
}

/**
 * DSN parameters (RFC 3461) of the transaction, in the shape the bounce stage reads.
 * smtp-server hands us decoded ENVID and ORCPT values; they are stored encoded again (xtext),
 * as the client sent them.
 */
function dsnMeta(session: SMTPServerSession): Record<string, unknown> | null {
  const envelope = session.envelope;
  const rcpt: Record<string, { notify?: string[]; orcpt?: string }> = {};
  for (const r of envelope.rcptTo) {
    if (r.dsn?.notify || r.dsn?.orcpt) {
      rcpt[r.address] = {
        ...(r.dsn.notify ? { notify: r.dsn.notify } : {}),
        ...(r.dsn.orcpt ? { orcpt: encodeXtext(r.dsn.orcpt) } : {}),
      };
    }
  }
  const ret = envelope.dsn?.ret ?? null;
  const envid = envelope.dsn?.envid ? encodeXtext(envelope.dsn.envid) : null;
  if (!ret && !envid && Object.keys(rcpt).length === 0) return null;
  return { ret, envid, rcpt };
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
  const { acceptor, policy, authenticator, log } = deps;
  const gauge = new ConnectionGauge(deps.limits, deps.worker);
  const rates = new RateCounter(deps.limits);
  const states = new WeakMap<SMTPServerSession, SessionState>();
  const patchOptions: ConnectionPatchOptions = {
    greetingDelayMs: smtp.greeting_delay,
    maxErrors: smtp.max_errors,
    commandTimeoutMs: smtp.command_timeout,
    dataTimeoutMs: smtp.data_timeout,
  };
  const authFailKey = (ip: string) => `auth-fail:${ip}`;
  const userRateKey = (name: string) => `user-msg:${name}`;

  const createServer = (listener: SmtpListener) => {
    const implicitTls = listener.mode === "smtps";
    const authRequired = listener.mode !== "smtp";
    const withoutTlsAuth = smtp.auth.allow_insecure_auth;

    const options: SMTPServerOptions & { fastmta: ConnectionPatchOptions } = {
      name: smtp.hostname,
      banner: "fastmta",
      secure: implicitTls,
      key: deps.tls.key,
      cert: deps.tls.cert,
      size: smtp.max_message_size,
      rejectOversized: true,
      authMethods: smtp.auth.mechanisms,
      // Required-ness is checked in onMailFrom with our own reply; the library's counter of
      // "unauthenticated commands" would close submission sessions doing STARTTLS + EHLO.
      authOptional: true,
      allowInsecureAuth: withoutTlsAuth,
      disabledCommands: DISABLED,
      hideENHANCEDSTATUSCODES: false,
      hideDSN: false,
      disableReverseLookup: true,
      logger: false,
      maxClients: smtp.max_connections,
      maxRecipients: 0,
      maxCommandLength: smtp.max_line_length,
      socketTimeout: smtp.idle_timeout,
      closeTimeout: 10_000,
      fastmta: patchOptions,

      onConnect(session, callback) {
        const ip = clientIp(session);
        // Clients in relay networks are exempt, as Postfix exempts $mynetworks from its
        // connection count limit: they are our own applications sending in bulk.
        const slot = policy.isTrusted(ip) ? null : `conn:${ip}`;
        if (slot !== null && !gauge.acquire(slot, smtp.max_connections_per_ip)) {
          log(`smtp: refused ${ip}: more than ${smtp.max_connections_per_ip} connections`);
          return callback(
            smtpError(421, `4.7.0 Error: too many connections from ${ip}, try again later`),
          );
        }
        states.set(session, { listener, ipSlot: slot, user: null });
        // AUTH is only offered (and accepted) once the connection is encrypted.
        session.disabledCommands = session.secure || withoutTlsAuth
          ? DISABLED
          : [...DISABLED, "AUTH"];
        callback();
      },

      onSecure(_socket, session, callback) {
        session.disabledCommands = DISABLED;
        callback();
      },

      onClose(session) {
        const state = states.get(session);
        if (state?.ipSlot) {
          gauge.release(state.ipSlot);
          state.ipSlot = null;
        }
      },

      onAuth(auth: SMTPServerAuthentication, session, callback) {
        const ip = clientIp(session);
        const state = states.get(session);
        if (
          !state || (auth.method !== "PLAIN" && auth.method !== "LOGIN" &&
            auth.method !== "CRAM-MD5")
        ) {
          return callback(smtpError(504, "5.5.4 Error: unrecognized authentication type"));
        }
        const failures = rates.count(authFailKey(ip), smtp.auth.failure_window);
        if (failures >= smtp.auth.max_failures) {
          log(`smtp: AUTH refused for ${ip}: ${failures} failed attempts, throttled`);
          return callback(
            smtpError(
              421,
              "4.7.0 Error: too many failed authentication attempts from your address, " +
                "try again later",
            ),
          );
        }
        const username = auth.username ?? "";
        const request = auth.method === "CRAM-MD5"
          ? {
            method: "CRAM-MD5" as const,
            username,
            validate: (secret: string) => auth.validatePassword?.(secret) === true,
          }
          : { method: auth.method, username, password: auth.password ?? "" };
        authenticator.authenticate(request).then((user) => {
          if (!user) {
            const n = rates.hit(authFailKey(ip), smtp.auth.failure_window);
            log(
              `smtp: AUTH ${auth.method} failed for "${username}" from ${ip} ` +
                `(${n} of ${smtp.auth.max_failures} allowed)`,
            );
            return callback(null, {
              message: "5.7.8 Error: authentication failed",
              responseCode: 535,
            } as never);
          }
          state.user = {
            name: user.username,
            maxRecipients: user.maxRecipients ?? smtp.auth.max_recipients,
            maxPerMinute: user.maxMessagesPerMinute ?? smtp.auth.max_messages_per_minute,
          };
          callback(null, { user: user.username });
        }).catch((error) => {
          log(`smtp: AUTH for "${username}" from ${ip} failed: ${(error as Error).message}`);
          callback(smtpError(454, "4.7.0 Error: temporary authentication failure"));
        });
      },

      onMailFrom(_address, session, callback) {
        const state = states.get(session);
        if (!state) return callback(smtpError(421, "4.3.0 Error: session state lost"));
        if (authRequired && !session.user) {
          if (!session.secure && !withoutTlsAuth) {
            return callback(smtpError(530, "5.7.0 Must issue a STARTTLS command first"));
          }
          return callback(smtpError(530, "5.7.0 Authentication required"));
        }
        if (state.user) {
          const sent = rates.count(userRateKey(state.user.name), MINUTE);
          if (sent >= state.user.maxPerMinute) {
            log(`smtp: user "${state.user.name}" over ${state.user.maxPerMinute} messages/min`);
            return callback(
              smtpError(
                421,
                `4.7.0 Error: too many messages from user "${state.user.name}": limit ` +
                  `${state.user.maxPerMinute} per minute, try again later`,
              ),
            );
          }
        }
        callback();
      },

      onRcptTo(address: SMTPServerAddress, session, callback) {
        const state = states.get(session);
        const count = session.envelope.rcptTo.length;
        if (count >= smtp.max_recipients) {
          return callback(
            smtpError(452, `4.5.3 Error: too many recipients (limit ${smtp.max_recipients})`),
          );
        }
        if (state?.user && count >= state.user.maxRecipients) {
          return callback(
            smtpError(
              452,
              `4.5.3 Error: too many recipients for user "${state.user.name}" ` +
                `(limit ${state.user.maxRecipients} per message)`,
            ),
          );
        }
        const domain = domainOf(address.address);
        if (domain === "") {
          return callback(smtpError(550, `5.1.3 <${address.address}>: recipient needs a domain`));
        }
        if (!policy.mayRelay(session.remoteAddress, Boolean(session.user), domain)) {
          return callback(smtpError(554, `5.7.1 <${address.address}>: Relay access denied`));
        }
        callback();
      },

      onData(stream, session, callback) {
        const queueId = newQueueId();
        const headerLimits = headerLimitsOf(config);
        const collector = new MessageCollector(headerLimits);
        stream.on("data", (chunk: Uint8Array) => collector.push(chunk, stream.sizeExceeded));
        stream.on("error", () => collector.refuse("size"));
        stream.on("end", () => {
          if (stream.sizeExceeded || collector.refused === "size") {
            // smtp-server answers 552 itself (rejectOversized); the error keeps us honest.
            return callback(
              smtpError(552, "5.3.4 Error: message exceeds fixed maximum message size"),
            );
          }
          if (collector.refused === "header") {
            return callback(headerRefusal(collector.headerProblem ?? "size", headerLimits));
          }
          accept(session, queueId, collector).then(
            (id) => callback(null, `2.0.0 Ok: queued as ${id}`),
            (error) => {
              log(`smtp: cannot accept message ${queueId}: ${(error as Error).message}`);
              callback(smtpError(451, "4.3.0 Error: queue file write error, try again later"));
            },
          );
        });
      },
    };
    return new SMTPServer(options);
  };

  async function accept(
    session: SMTPServerSession,
    queueId: string,
    collector: MessageCollector,
  ): Promise<string> {
    const state = states.get(session);
    const recipients = session.envelope.rcptTo.map((r) => r.address);
    const now = new Date();
    const tls = session.secure && session.tlsOptions
      ? { version: session.tlsOptions.version, cipher: session.tlsOptions.name }
      : null;
    let prefix = receivedHeader({
      helo: session.hostNameAppearsAs || null,
      clientIp: clientIp(session),
      hostname: smtp.hostname,
      protocol: session.transmissionType || "SMTP",
      queueId,
      recipient: recipients.length === 1 ? recipients[0] : null,
      tls,
      date: now,
    });
    if (smtp.add_message_id && !collector.hasMessageId()) {
      prefix += messageIdHeader(queueId, smtp.hostname);
    }
    const meta: Record<string, unknown> = {};
    const dsn = dsnMeta(session);
    if (dsn) meta.dsn = dsn;
    if (state?.user) meta.auth = state.user.name;
    if (session.envelope.bodyType === "8bitmime") meta.body = "8BITMIME";
    if (session.envelope.smtpUtf8) meta.smtputf8 = true;
    if (state) meta.listener = `${state.listener.mode}:${state.listener.port}`;
    const mailFrom = session.envelope.mailFrom;
    const body = collector.build(prefix);
    collector.releaseChunks();
    let id: string;
    try {
      id = await acceptor.submit({
        id: queueId,
        sender: mailFrom ? mailFrom.address : "",
        recipients,
        channel: "smtp",
        clientIp: clientIp(session),
        receivedAt: now.getTime(),
        body,
        meta,
      });
    } finally {
      // Committed (the store has its own copy) or refused: either way these bytes are done.
      releaseBytes(body);
    }
    if (state?.user) rates.hit(userRateKey(state.user.name), MINUTE);
    return id;
  }

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
