/**
 * The server options of one listener, for either engine (`smtp.engine`): TLS, sizes, limits,
 * AUTH mechanisms and deadlines (for smtp-server, the connection patch's:
 * core/inbound/connection_patch.ts). The handlers are added by core/inbound/smtp.ts.
 *
 * Reads config: smtp.*.
 */
import type { SMTPServerOptions } from "smtp-server";
import type { Config, SmtpListener } from "../config/mod.ts";
import type { ConnectionPatchOptions } from "./connection_patch.ts";
import type { EngineOptions } from "./engine/mod.ts";
import { DISABLED } from "./smtp_session.ts";
import type { TlsPair } from "./tls.ts";

/** smtp-server's options plus the connection patch's. */
export type ListenerOptions = SMTPServerOptions & { fastmta: ConnectionPatchOptions };

/** The connection patch's deadlines and limits from `smtp.*`. */
export function patchOptionsOf(smtp: Config["smtp"]): ConnectionPatchOptions {
  return {
    greetingDelayMs: smtp.greeting_delay,
    maxErrors: smtp.max_errors,
    commandTimeoutMs: smtp.command_timeout,
    dataTimeoutMs: smtp.data_timeout,
  };
}

/** The options (without handlers) of the server on `listener`. */
export function listenerOptions(
  smtp: Config["smtp"],
  listener: SmtpListener,
  tls: TlsPair,
  patch: ConnectionPatchOptions,
): ListenerOptions {
  return {
    name: smtp.hostname,
    banner: "fastmta",
    secure: listener.mode === "smtps",
    key: tls.key,
    cert: tls.cert,
    size: smtp.max_message_size,
    rejectOversized: true,
    authMethods: smtp.auth.mechanisms,
    // Required-ness is checked in onMailFrom with our own reply; the library's counter of
    // "unauthenticated commands" would close submission sessions doing STARTTLS + EHLO.
    authOptional: true,
    allowInsecureAuth: smtp.auth.allow_insecure_auth,
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
    fastmta: patch,
  };
}

/** The own engine's options (core/inbound/engine/) of the server on `listener`. */
export function engineOptions(
  smtp: Config["smtp"],
  listener: SmtpListener,
  tls: TlsPair,
): EngineOptions {
  return {
    name: smtp.hostname,
    banner: "fastmta",
    secure: listener.mode === "smtps",
    key: tls.key,
    cert: tls.cert,
    size: smtp.max_message_size,
    authMethods: smtp.auth.mechanisms,
    allowInsecureAuth: smtp.auth.allow_insecure_auth,
    disabledCommands: DISABLED,
    maxClients: smtp.max_connections,
    maxCommandLength: smtp.max_line_length,
    idleTimeoutMs: smtp.idle_timeout,
    greetingDelayMs: smtp.greeting_delay,
    maxErrors: smtp.max_errors,
    commandTimeoutMs: smtp.command_timeout,
    dataTimeoutMs: smtp.data_timeout,
    closeTimeoutMs: 10_000,
  };
}
