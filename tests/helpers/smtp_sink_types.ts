/**
 * The SMTP sink's types (tests/helpers/smtp_sink.ts re-exports them): what the reply hook sees,
 * the recorded messages, the options and the running sink.
 */

/** Commands the `reply` hook sees. Unknown verbs are passed upper-cased. */
export type SinkCommand =
  | "CONNECT"
  | "EHLO"
  | "HELO"
  | "MAIL"
  | "RCPT"
  | "DATA"
  | "DATA_END"
  | "RSET"
  | "NOOP"
  | "QUIT"
  | "STARTTLS"
  | "VRFY"
  // deno-lint-ignore ban-types
  | (string & {});

/** Live state of one SMTP connection. */
export interface SinkSession {
  /** Sink-wide connection number, starting at 1. */
  readonly id: number;
  /** Peer IP, IPv4 as a plain dotted quad (any "::ffff:" prefix stripped). */
  readonly remoteAddress: string;
  /** Peer port. */
  readonly remotePort: number;
  /** Local IP the peer connected to. */
  readonly localAddress: string;
  /** Argument of the last successful EHLO/HELO ("" before). */
  helo: string;
  /** Reverse path of the open transaction (null when none is open). */
  mailFrom: string | null;
  /** Parameters given with MAIL FROM (e.g. "BODY=8BITMIME"). */
  mailParams: string[];
  /** Accepted recipients of the open transaction. */
  rcptTo: string[];
  /** Messages accepted on this connection so far. */
  messagesOnConnection: number;
  /** Whether STARTTLS completed on this connection. */
  tls: boolean;
}

/** Argument of the `reply` hook. */
export interface SinkCommandContext {
  /** The command verb (upper-cased), or "CONNECT" / "DATA_END". */
  command: SinkCommand;
  /** Everything after the verb and one space ("" if none). */
  arg: string;
  /** The connection's state *before* this command takes effect. */
  session: SinkSession;
  /**
   * Number of DATA transfers the whole sink completed before this one
   * (accepted or rejected): 0 for the first message ever sent to this sink.
   */
  messageIndex: number;
  /** For DATA_END: the message bytes (empty when `keepData` is false). */
  data?: Uint8Array;
}

/**
 * Return this from the `reply` hook to drop the connection without replying
 * (for DATA_END: after the data was received, before any reply is sent).
 */
export const SINK_DISCONNECT = "<disconnect>";

/** A message the sink accepted. */
export interface SinkMessage {
  /** Reverse path ("" for the null sender `<>`). */
  mailFrom: string;
  /** MAIL FROM parameters, e.g. ["BODY=8BITMIME", "SIZE=123"]. */
  mailParams: string[];
  /** Accepted recipients. */
  rcptTo: string[];
  /**
   * Exact bytes after dot-unstuffing, including the CRLF that ends the last
   * line, without the terminating ".CRLF". Empty when `keepData` is false.
   */
  data: Uint8Array;
  /** Size of the message in bytes (also set when `keepData` is false). */
  size: number;
  /** `data` decoded as UTF-8. */
  text(): string;
  /** Client IP (plain IPv4 dotted quad for IPv4 clients). */
  remoteAddress: string;
  /** Local IP the client connected to. */
  localAddress: string;
  /** EHLO/HELO argument of the session. */
  helo: string;
  /** Session (connection) id. */
  sessionId: number;
  /** Whether the message came over TLS. */
  tls: boolean;
  /** `Date.now()` when the final dot was received. */
  receivedAt: number;
  /** Queue id the sink returned in its 250 reply. */
  queueId: string;
}

/** Options for {@link startSmtpSink}. */
export interface SmtpSinkOptions {
  /** Address to bind (default "127.0.0.1"). */
  hostname?: string;
  /** Port (default 0 = ephemeral). */
  port?: number;
  /**
   * Greeting: either a full reply ("554 go away") or the text after "220 ".
   * Default: "220 <ehloHostname> ESMTP test sink".
   */
  greeting?: string;
  /** Name the sink uses for itself (default "sink.test"). */
  ehloHostname?: string;
  /**
   * Overrides the reply for a command: return a reply (e.g. "451 4.3.0 later";
   * multi-line replies separated by "\n", each line carrying its own
   * "250-" / "250 " prefix), {@link SINK_DISCONNECT}, or undefined for the
   * default. May return a promise to delay the reply; later pipelined commands
   * wait for it. State follows the reply code: e.g. a 2xx to RCPT adds the
   * recipient, a 3xx to DATA starts data, a 2xx to DATA_END records the
   * message.
   */
  reply?: (
    ctx: SinkCommandContext,
  ) => string | undefined | Promise<string | undefined>;
  /** Enables STARTTLS with this PEM key and certificate. */
  starttls?: { key: string; cert: string };
  /**
   * Keep message bodies (default true). With false only the envelope, size
   * and counters are kept: cheap enough for benchmarks.
   */
  keepData?: boolean;
  /** Advertised SIZE and enforced limit in bytes (default 52428800). */
  maxMessageSize?: number;
  /**
   * EHLO keywords to advertise instead of the default
   * ["PIPELINING", "8BITMIME", "SMTPUTF8", "SIZE <max>", "ENHANCEDSTATUSCODES"].
   * STARTTLS is added when configured. Pipelined input is handled either way.
   */
  extensions?: string[];
}

/** A running SMTP sink. */
export interface SmtpSink {
  /** Bound port. */
  readonly port: number;
  /** Bound address. */
  readonly hostname: string;
  /** Accepted messages, in acceptance order. */
  readonly messages: SinkMessage[];
  /** Total connections accepted so far. */
  readonly connections: number;
  /** Connections open right now. */
  readonly activeConnections: number;
  /** Highest number of simultaneously open connections seen. */
  readonly maxConcurrentConnections: number;
  /** DATA transfers completed (accepted or rejected). */
  readonly dataTransfers: number;
  /**
   * Exceptions thrown by the `reply` hook (e.g. failed assertions). Each one
   * drops its connection and makes every pending and later wait reject.
   */
  readonly errors: unknown[];
  /**
   * Resolves with (a copy of) `messages` once at least `n` messages were
   * accepted; rejects with a descriptive error after `timeoutMs`, when the
   * sink closes, or when the `reply` hook throws (the hook's error as `cause`).
   */
  waitForMessages(n: number, timeoutMs?: number): Promise<SinkMessage[]>;
  /**
   * Resolves once `condition(sink)` is true; it is re-checked on every
   * connection open/close, command and message. Rejects like
   * {@link SmtpSink.waitForMessages}.
   */
  waitFor(
    condition: (sink: SmtpSink) => boolean,
    timeoutMs?: number,
    description?: string,
  ): Promise<void>;
  /** Forgets recorded messages (counters are kept). */
  clearMessages(): void;
  /** Stops listening and destroys every open connection. */
  close(): Promise<void>;
  /** Same as {@link SmtpSink.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}
