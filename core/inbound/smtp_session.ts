/**
 * The SMTP session handlers up to DATA: per-IP connection slots, STARTTLS before AUTH, AUTH
 * against the store's users with failure throttling per IP, the relay policy and the per-user
 * message and recipient limits. Every handler answers with an SMTP reply; none throws.
 *
 * Reads config: smtp.max_connections_per_ip, smtp.max_recipients, smtp.auth.*.
 */
import { metrics } from "../metrics/mod.ts";
import type {
  SMTPServerAddress,
  SMTPServerAuthentication,
  SMTPServerOptions,
  SMTPServerSession,
} from "smtp-server";
import type { Config, SmtpListener } from "../config/mod.ts";
import type { Acceptor, RelayPolicy } from "../accept/mod.ts";
import type { SmtpAuthenticator } from "../auth/mod.ts";
import { domainOf, hasRoutingSyntax, mailboxKey } from "../mail/mod.ts";
import type { ConnectionGauge, RateCounter } from "./shared_limits.ts";
import { smtpError } from "./smtp_replies.ts";

/** What this channel remembers per connection, beside the library's session. */
export interface SessionState {
  listener: SmtpListener;
  ipSlot: string | null;
  user: { name: string; maxRecipients: number; maxPerMinute: number } | null;
}

/**
 * Where mail for bounce/feedback domains goes instead of the queue (core/bounce's report
 * processor, wired in by the SMTP worker): taken from anyone, never relayed.
 */
export interface BounceIntake {
  /** Whether `domain` is a bounce/feedback domain (read live). */
  isBounceDomain(domain: string): boolean;
  /** Why RCPT TO `address` at a bounce domain is refused (a forged token…), or null. */
  refusal(address: string): Promise<string | null>;
  /** Stores a report durably; resolves with its id. */
  receive(report: {
    mailFrom: string;
    rcptTo: string[];
    clientIp: string | null;
    raw: Uint8Array;
  }): Promise<string>;
}

/** What the handlers of every listener share: config, collaborators and per-session state. */
export interface SmtpContext {
  smtp: Config["smtp"];
  acceptor: Acceptor;
  policy: RelayPolicy;
  authenticator: SmtpAuthenticator;
  gauge: ConnectionGauge;
  rates: RateCounter;
  states: WeakMap<SMTPServerSession, SessionState>;
  /** Mail for bounce/feedback domains; absent: there are none. */
  bounces?: BounceIntake;
  log: (line: string) => void;
}

/** Whether the transaction's recipients are at bounce/feedback domains (decided by the first). */
export function isBounceTransaction(ctx: SmtpContext, session: SMTPServerSession): boolean {
  const first = session.envelope.rcptTo[0];
  return Boolean(first && ctx.bounces?.isBounceDomain(domainOf(first.address)));
}

/** The session handlers smtp-server calls before DATA. */
export type SessionHandlers = Required<
  Pick<
    SMTPServerOptions,
    "onConnect" | "onSecure" | "onClose" | "onAuth" | "onMailFrom" | "onRcptTo"
  >
>;

/** One minute, the window of the per-user message rate. */
export const MINUTE = 60_000;
/** Commands nobody needs (smtp-server's sendmail jokes, proxy commands we never trust). */
export const DISABLED = ["WIZ", "SHELL", "KILL", "XCLIENT", "XFORWARD"];
/** The same and AUTH, before TLS: one list for all such sessions (the engine keeps a set each). */
const DISABLED_BEFORE_TLS = [...DISABLED, "AUTH"];

/** The client's IP address, without the IPv4-mapped IPv6 prefix. */
export function clientIp(session: SMTPServerSession): string {
  return session.remoteAddress.replace(/^::ffff:/i, "");
}

/** The shared rate counter key of failed AUTH attempts from `ip`. */
function authFailKey(ip: string): string {
  return `auth-fail:${ip}`;
}

/** The shared rate counter key of messages sent by user `name`. */
export function userRateKey(name: string): string {
  return `user-msg:${name}`;
}

/**
 * RCPT TO a bounce/feedback domain: accepted from anyone (mail there is never relayed), unless
 * the processor refuses the address (a forged or expired VERP token).
 */
function bounceRecipient(
  ctx: SmtpContext,
  address: string,
  callback: (error?: Error | null) => void,
): void {
  ctx.bounces!.refusal(address).then((reason) => {
    if (reason === null) return callback();
    ctx.log(`smtp: refused bounce recipient <${address}>: ${reason}`);
    callback(smtpError(550, `5.1.1 <${address}>: ${reason}`));
  }, (error) => {
    ctx.log(`smtp: cannot check bounce recipient <${address}>: ${(error as Error).message}`);
    callback(smtpError(451, "4.3.0 Error: cannot check the bounce address, try again later"));
  });
}

/** The handlers for sessions on `listener`. */
export function sessionHandlers(ctx: SmtpContext, listener: SmtpListener): SessionHandlers {
  return {
    onConnect: connectHandler(ctx, listener),
    onSecure(_socket, session, callback) {
      session.disabledCommands = DISABLED;
      callback();
    },
    onClose(session) {
      const state = ctx.states.get(session);
      if (state?.ipSlot) {
        ctx.gauge.release(state.ipSlot);
        state.ipSlot = null;
      }
    },
    onAuth: authHandler(ctx),
    onMailFrom: mailFromHandler(ctx, listener),
    onRcptTo: rcptToHandler(ctx),
  };
}

function connectHandler(ctx: SmtpContext, listener: SmtpListener): SessionHandlers["onConnect"] {
  const { smtp, policy, gauge, states, log } = ctx;
  const withoutTlsAuth = smtp.auth.allow_insecure_auth;
  return (session, callback) => {
    const ip = clientIp(session);
    // Clients in relay networks are exempt, as Postfix exempts $mynetworks from its
    // connection count limit: they are our own applications sending in bulk.
    const slot = policy.isTrusted(ip) ? null : `conn:${ip}`;
    if (slot !== null && !gauge.acquire(slot, smtp.max_connections_per_ip)) {
      metrics.inc("fastmta_smtp_connections_in_total", { result: "refused" });
      log(`smtp: refused ${ip}: more than ${smtp.max_connections_per_ip} connections`);
      return callback(
        smtpError(421, `4.7.0 Error: too many connections from ${ip}, try again later`),
      );
    }
    metrics.inc("fastmta_smtp_connections_in_total", { result: "accepted" });
    states.set(session, { listener, ipSlot: slot, user: null });
    // AUTH is only offered (and accepted) once the connection is encrypted.
    session.disabledCommands = session.secure || withoutTlsAuth ? DISABLED : DISABLED_BEFORE_TLS;
    callback();
  };
}

function authHandler(ctx: SmtpContext): SessionHandlers["onAuth"] {
  const { smtp, authenticator, rates, states, log } = ctx;
  return (auth: SMTPServerAuthentication, session, callback) => {
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
  };
}

function mailFromHandler(ctx: SmtpContext, listener: SmtpListener): SessionHandlers["onMailFrom"] {
  const { smtp, rates, states, log } = ctx;
  const authRequired = listener.mode !== "smtp";
  const withoutTlsAuth = smtp.auth.allow_insecure_auth;
  return (_address, session, callback) => {
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
  };
}

/** Per transaction (its recipient list), the mailbox keys accepted so far. */
const distinctSoFar = new WeakMap<object, Set<string>>();

function rcptToHandler(ctx: SmtpContext): SessionHandlers["onRcptTo"] {
  const { smtp, policy, states } = ctx;
  return (address: SMTPServerAddress, session, callback) => {
    const state = states.get(session);
    // Distinct mailboxes so far (a repeated RCPT is kept, then dropped at DATA: it adds none).
    let seen = distinctSoFar.get(session.envelope.rcptTo);
    if (!seen) distinctSoFar.set(session.envelope.rcptTo, seen = new Set());
    const key = mailboxKey(address.address);
    const count = seen.has(key) ? 0 : seen.size;
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
    const bounce = ctx.bounces?.isBounceDomain(domain) ?? false;
    if (session.envelope.rcptTo.length > 0 && bounce !== isBounceTransaction(ctx, session)) {
      // Reports go to the bounce processor, other mail to the queue: one kind per transaction.
      return callback(
        smtpError(452, `4.5.3 <${address.address}>: send bounce reports in a separate transaction`),
      );
    }
    if (bounce) {
      return bounceRecipient(ctx, address.address, (error) => {
        if (!error) seen.add(key);
        callback(error);
      });
    }
    // Strangers may not route through us with the local part (percent hack, bang path, …).
    if (
      !session.user && hasRoutingSyntax(address.address) &&
      !policy.isTrusted(session.remoteAddress)
    ) {
      return callback(
        smtpError(554, `5.7.1 <${address.address}>: address routing syntax is not accepted`),
      );
    }
    if (!policy.mayRelay(session.remoteAddress, Boolean(session.user), domain)) {
      return callback(smtpError(554, `5.7.1 <${address.address}>: Relay access denied`));
    }
    seen.add(key);
    callback();
  };
}
