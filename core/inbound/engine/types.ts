/**
 * The contract between the own SMTP engine and the channel that uses it: the options of one
 * listener and the handlers, which keep npm `smtp-server`'s shapes (session, addresses, AUTH
 * requests, callbacks) so core/inbound/smtp_session.ts serves either engine.
 *
 * @module
 */
import type { SMTPServerOptions, SMTPServerSession } from "smtp-server";
import type { CodeChoice, FormattedReply } from "./replies.ts";

/** The message of a DATA command as it arrives: "data" parts, then "end", or "error". */
export interface DataSource {
  /** Set once the message went over the size limit (its parts stop coming). */
  readonly sizeExceeded: boolean;
  on(event: "data", listener: (part: Uint8Array) => void): this;
  on(event: "end", listener: () => void): this;
  on(event: "error", listener: (error: Error) => void): this;
}

/** The DATA handler: answers with an error (its `responseCode`) or the 250 text. */
export type DataHandler = (
  source: DataSource,
  session: SMTPServerSession,
  callback: (error?: Error | null, message?: string) => void,
) => void;

/** The handlers of one listener, as smtp-server calls them; onData takes a DataSource. */
export type EngineHandlers =
  & Required<
    Pick<
      SMTPServerOptions,
      "onConnect" | "onSecure" | "onClose" | "onAuth" | "onMailFrom" | "onRcptTo"
    >
  >
  & { onData: DataHandler };

/** The settings of one listener. */
export interface EngineOptions {
  /** Our host name (greeting, EHLO). */
  name: string;
  /** Text after "ESMTP" in the greeting. */
  banner: string;
  /** Implicit TLS (smtps): the handshake comes before the greeting. */
  secure: boolean;
  key: string;
  cert: string;
  /** Largest message in bytes (EHLO SIZE, MAIL SIZE=, DATA). */
  size: number;
  /** AUTH mechanisms offered. */
  authMethods: string[];
  /** AUTH on a connection without TLS. */
  allowInsecureAuth: boolean;
  /** Commands refused as unknown unless the session sets its own list. */
  disabledCommands: string[];
  /** Connections of this listener at once (421 above it). */
  maxClients: number;
  /** Longest command line in bytes. */
  maxCommandLength: number;
  /** No byte from the client this long: 421. */
  idleTimeoutMs: number;
  greetingDelayMs: number;
  /** Error replies before 421 and close. */
  maxErrors: number;
  /** A command line must be complete this long after the previous one. */
  commandTimeoutMs: number;
  /** The whole DATA must arrive within this. */
  dataTimeoutMs: number;
  /** How long close() lets sessions finish before it ends them. */
  closeTimeoutMs: number;
}

/** What a command (commands.ts) may do with its connection (connection.ts). */
export interface CommandTarget {
  readonly name: string;
  readonly session: SMTPServerSession;
  readonly host: { options: EngineOptions; handlers: EngineHandlers; shuttingDown: boolean };
  readonly secure: boolean;
  readonly upgrading: boolean;
  hostNameAppearsAs: string | false;
  openingCommand: string | false;
  unrecognized: number;
  /** Handler of the next line instead of a command (an AUTH continuation). */
  next: ((line: string, done: () => void) => void) | null;
  send(code: number, text?: string | string[], choice?: CodeChoice): void;
  /** `send` of a reply formatted once. */
  sendFormatted(reply: FormattedReply): void;
  isSupported(command: string): boolean;
  resetSession(): void;
  transmissionType(): string;
  /** Holds input until the returned function is called. */
  wait(): () => void;
  startData(): void;
  startTls(): void;
  close(): void;
  /** Closes after QUIT (the 221 queued): the socket goes once the reply is written. */
  quit(): void;
}
