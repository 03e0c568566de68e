/**
 * An SMTP server for tests ("sink"), written directly on `node:net`. It
 * accepts mail, records every accepted message, and lets a test override any
 * reply through the `reply` hook (to simulate rejections, temporary failures,
 * slow servers or dropped connections).
 *
 * @module
 */

import net from "node:net";
import tls from "node:tls";
import { Buffer } from "node:buffer";

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

const CR = 13;
const LF = 10;
const DOT = 46;
const EMPTY = new Uint8Array(0);
const decoder = new TextDecoder();

function plainAddress(address: string | undefined): string {
  if (!address) return "";
  return address.startsWith("::ffff:") ? address.slice(7) : address;
}

function concatBytes(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

function formatReply(reply: string): string {
  return reply.replace(/\r?\n$/, "").split(/\r?\n/).map((l) => l + "\r\n").join("");
}

function replyCode(reply: string): number {
  return Number.parseInt(reply.slice(0, 3), 10) || 0;
}

function parsePath(arg: string, keyword: "FROM" | "TO"): { path: string; params: string[] } | null {
  const re = new RegExp(`^${keyword}:\\s*(?:<([^>]*)>|(\\S+))\\s*(.*)$`, "i");
  const m = arg.match(re);
  if (!m) return null;
  const params = m[3].trim() === "" ? [] : m[3].trim().split(/\s+/);
  return { path: m[1] ?? m[2] ?? "", params };
}

/** Starts an SMTP sink and resolves once it is listening. */
export async function startSmtpSink(opts: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const hostname = opts.hostname ?? "127.0.0.1";
  const ehloHostname = opts.ehloHostname ?? "sink.test";
  const keepData = opts.keepData ?? true;
  const maxMessageSize = opts.maxMessageSize ?? 52_428_800;
  const greeting = opts.greeting === undefined
    ? `220 ${ehloHostname} ESMTP test sink`
    : /^\d{3}[ -]/.test(opts.greeting)
    ? opts.greeting
    : `220 ${opts.greeting}`;
  const extensions = opts.extensions ??
    ["PIPELINING", "8BITMIME", "SMTPUTF8", `SIZE ${maxMessageSize}`, "ENHANCEDSTATUSCODES"];

  const messages: SinkMessage[] = [];
  const sockets = new Set<net.Socket>();
  let connections = 0;
  let activeConnections = 0;
  let maxConcurrentConnections = 0;
  let dataTransfers = 0;
  let nextQueueId = 1;
  let closed = false;

  type Waiter = {
    condition: () => boolean;
    resolve: () => void;
    reject: (err: Error) => void;
    description: string;
  };
  const waiters = new Set<Waiter>();
  const errors: unknown[] = [];
  const notify = () => {
    for (const w of [...waiters]) {
      if (errors.length) {
        waiters.delete(w);
        w.reject(
          new Error(`smtp sink reply hook threw while waiting for ${w.description}`, {
            cause: errors[0],
          }),
        );
      } else if (closed) {
        waiters.delete(w);
        w.reject(new Error(`smtp sink closed while waiting for ${w.description}`));
      } else if (w.condition()) {
        waiters.delete(w);
        w.resolve();
      }
    }
  };

  /** Records an exception from the reply hook so that waiters fail with it. */
  const hookFailed = (err: unknown) => {
    errors.push(err);
    notify();
  };

  const handleConnection = (raw: net.Socket) => {
    sockets.add(raw);
    connections++;
    activeConnections++;
    maxConcurrentConnections = Math.max(maxConcurrentConnections, activeConnections);
    raw.setNoDelay(true);

    const session: SinkSession = {
      id: connections,
      remoteAddress: plainAddress(raw.remoteAddress),
      remotePort: raw.remotePort ?? 0,
      localAddress: plainAddress(raw.localAddress),
      helo: "",
      mailFrom: null,
      mailParams: [],
      rcptTo: [],
      messagesOnConnection: 0,
      tls: false,
    };

    let socket: net.Socket = raw;
    let buf: Buffer = Buffer.alloc(0);
    let mode: "command" | "data" | "tls" | "closed" = "command";
    let busy = false;
    // Data-mode state.
    let parts: Uint8Array[] = [];
    let dataSize = 0;
    let atLineStart = true;
    let lastWasCR = false;

    const write = (reply: string) => {
      if (mode !== "closed" && !socket.destroyed) socket.write(formatReply(reply));
    };
    const drop = () => {
      mode = "closed";
      buf = Buffer.alloc(0);
      socket.destroy();
      raw.destroy();
    };
    const resetTransaction = () => {
      session.mailFrom = null;
      session.mailParams = [];
      session.rcptTo = [];
    };
    const snapshot = (): SinkSession => ({ ...session, rcptTo: [...session.rcptTo] });

    const ask = async (
      command: SinkCommand,
      arg: string,
      data?: Uint8Array,
    ): Promise<string | undefined> => {
      if (!opts.reply) return undefined;
      const ctx: SinkCommandContext = {
        command,
        arg,
        session: snapshot(),
        messageIndex: dataTransfers,
      };
      if (data) ctx.data = data;
      const result = opts.reply(ctx);
      return result instanceof Promise ? await result : result;
    };

    const emit = (chunk: Uint8Array) => {
      dataSize += chunk.length;
      if (keepData && chunk.length) parts.push(chunk);
    };

    /** Consumes data-mode bytes; returns true when the final dot was seen. */
    const consumeData = (): boolean => {
      let pos = 0;
      while (pos < buf.length) {
        if (atLineStart) {
          if (buf[pos] === DOT) {
            if (buf.length - pos < 3) {
              if (buf.length - pos === 2 && buf[pos + 1] !== CR) {
                pos++; // dot-stuffed line, decided
                atLineStart = false;
                continue;
              }
              break; // need more bytes to decide
            }
            if (buf[pos + 1] === CR && buf[pos + 2] === LF) {
              buf = buf.subarray(pos + 3);
              return true;
            }
            pos++; // dot-unstuffing
          }
          atLineStart = false;
        }
        const lf = buf.indexOf(LF, pos);
        if (lf === -1) {
          emit(buf.subarray(pos));
          lastWasCR = buf[buf.length - 1] === CR;
          pos = buf.length;
          break;
        }
        emit(buf.subarray(pos, lf + 1));
        atLineStart = lf > pos ? buf[lf - 1] === CR : lastWasCR;
        lastWasCR = false;
        pos = lf + 1;
      }
      buf = buf.subarray(pos);
      return false;
    };

    const startTls = () => {
      mode = "tls";
      buf = Buffer.alloc(0); // RFC 3207: discard anything pipelined after STARTTLS
      raw.removeAllListeners("data");
      const secure = new tls.TLSSocket(raw, {
        isServer: true,
        secureContext: tls.createSecureContext({
          key: opts.starttls!.key,
          cert: opts.starttls!.cert,
        }),
      });
      socket = secure;
      sockets.add(secure);
      secure.on("secure", () => {
        if (mode !== "tls") return;
        session.tls = true;
        session.helo = "";
        resetTransaction();
        mode = "command";
        pump();
      });
      secure.on("data", onData);
      secure.on("error", () => drop());
      secure.on("close", () => sockets.delete(secure));
    };

    const handleDataEnd = async () => {
      const data = keepData ? concatBytes(parts, dataSize) : EMPTY;
      const size = dataSize;
      parts = [];
      dataSize = 0;
      const override = await ask("DATA_END", "", data);
      dataTransfers++;
      const queueId = `SINK${String(nextQueueId++).padStart(6, "0")}`;
      const reply = override ??
        (size > maxMessageSize
          ? "552 5.3.4 Message too big"
          : `250 2.0.0 Ok: queued as ${queueId}`);
      if (reply === SINK_DISCONNECT) {
        resetTransaction();
        drop();
        notify();
        return;
      }
      if (replyCode(reply) >= 200 && replyCode(reply) < 300) {
        session.messagesOnConnection++;
        const bytes = data;
        messages.push({
          mailFrom: session.mailFrom ?? "",
          mailParams: session.mailParams,
          rcptTo: session.rcptTo,
          data: bytes,
          size,
          text: () => decoder.decode(bytes),
          remoteAddress: session.remoteAddress,
          localAddress: session.localAddress,
          helo: session.helo,
          sessionId: session.id,
          tls: session.tls,
          receivedAt: Date.now(),
          queueId,
        });
      }
      resetTransaction();
      write(reply);
      notify();
    };

    const defaultReply = (verb: string, arg: string): string => {
      switch (verb) {
        case "EHLO": {
          if (!arg) return "501 5.5.4 Syntax: EHLO hostname";
          const ext = [...extensions];
          if (opts.starttls && !session.tls) ext.push("STARTTLS");
          const lines = [`${ehloHostname} greets ${arg}`, ...ext];
          return lines.map((l, i) => `250${i === lines.length - 1 ? " " : "-"}${l}`).join("\n");
        }
        case "HELO":
          return arg ? `250 ${ehloHostname}` : "501 5.5.4 Syntax: HELO hostname";
        case "MAIL": {
          if (!session.helo) return "503 5.5.1 Error: send HELO/EHLO first";
          if (session.mailFrom !== null) return "503 5.5.1 Error: nested MAIL command";
          const p = parsePath(arg, "FROM");
          if (!p) return "501 5.5.4 Syntax: MAIL FROM:<address>";
          const sizeParam = p.params.find((x) => /^SIZE=/i.test(x));
          if (sizeParam && Number(sizeParam.slice(5)) > maxMessageSize) {
            return "552 5.3.4 Message size exceeds fixed limit";
          }
          return "250 2.1.0 Ok";
        }
        case "RCPT":
          if (session.mailFrom === null) return "503 5.5.1 Error: need MAIL command";
          if (!parsePath(arg, "TO")) return "501 5.5.4 Syntax: RCPT TO:<address>";
          return "250 2.1.5 Ok";
        case "DATA":
          if (session.mailFrom === null) return "503 5.5.1 Error: need MAIL command";
          if (session.rcptTo.length === 0) return "554 5.5.1 Error: no valid recipients";
          return "354 End data with <CR><LF>.<CR><LF>";
        case "RSET":
          return "250 2.0.0 Ok";
        case "NOOP":
          return "250 2.0.0 Ok";
        case "QUIT":
          return "221 2.0.0 Bye";
        case "VRFY":
          return "252 2.0.0 Cannot VRFY user";
        case "STARTTLS":
          if (!opts.starttls) return "502 5.5.1 Error: command not implemented";
          if (session.tls) return "503 5.5.1 Error: TLS already active";
          return "220 2.0.0 Ready to start TLS";
        default:
          return "500 5.5.2 Error: command not recognized";
      }
    };

    const handleCommand = async (line: string) => {
      const space = line.indexOf(" ");
      const verb = (space === -1 ? line : line.slice(0, space)).toUpperCase();
      const arg = space === -1 ? "" : line.slice(space + 1).trim();
      const reply = (await ask(verb, arg)) ?? defaultReply(verb, arg);
      if (reply === SINK_DISCONNECT) {
        drop();
        return;
      }
      const code = replyCode(reply);
      const ok = code >= 200 && code < 300;
      switch (verb) {
        case "EHLO":
        case "HELO":
          if (ok) {
            session.helo = arg;
            resetTransaction();
          }
          break;
        case "MAIL":
          if (ok) {
            const p = parsePath(arg, "FROM");
            session.mailFrom = p?.path ?? arg;
            session.mailParams = p?.params ?? [];
            session.rcptTo = [];
          }
          break;
        case "RCPT":
          if (ok) session.rcptTo.push(parsePath(arg, "TO")?.path ?? arg);
          break;
        case "DATA":
          if (code >= 300 && code < 400) {
            write(reply);
            mode = "data";
            atLineStart = true;
            lastWasCR = false;
            parts = [];
            dataSize = 0;
            return;
          }
          break;
        case "RSET":
          if (ok) resetTransaction();
          break;
        case "QUIT":
          write(reply);
          mode = "closed";
          socket.end();
          return;
        case "STARTTLS":
          if (code === 220 && opts.starttls && !session.tls) {
            write(reply);
            startTls();
            return;
          }
          break;
      }
      write(reply);
    };

    const pump = async () => {
      if (busy) return;
      busy = true;
      try {
        while (!closed) {
          if (mode === "data") {
            if (!consumeData()) break;
            mode = "command";
            await handleDataEnd();
            continue;
          }
          if (mode !== "command") break;
          const lf = buf.indexOf(LF);
          if (lf === -1) break;
          const end = lf > 0 && buf[lf - 1] === CR ? lf - 1 : lf;
          const line = decoder.decode(buf.subarray(0, end));
          buf = buf.subarray(lf + 1);
          await handleCommand(line);
          notify();
        }
      } catch (err) {
        hookFailed(err);
        drop();
      } finally {
        busy = false;
      }
    };

    function onData(chunk: Buffer) {
      if (mode === "closed" || mode === "tls") return;
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      pump();
    }

    raw.on("data", onData);
    raw.on("error", () => drop());
    raw.on("close", () => {
      mode = "closed";
      sockets.delete(raw);
      activeConnections--;
      notify();
    });

    // The greeting goes out before any (early-talker) input is processed.
    busy = true;
    (async () => {
      const override = await ask("CONNECT", "");
      if (override === SINK_DISCONNECT) {
        drop();
        return;
      }
      write(override ?? greeting);
      busy = false;
      notify();
      pump();
    })().catch((err) => {
      hookFailed(err);
      drop();
    });
  };

  const server = net.createServer(handleConnection);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;

  let closing: Promise<void> | undefined;
  const sink: SmtpSink = {
    port,
    hostname,
    messages,
    get connections() {
      return connections;
    },
    get activeConnections() {
      return activeConnections;
    },
    get maxConcurrentConnections() {
      return maxConcurrentConnections;
    },
    get dataTransfers() {
      return dataTransfers;
    },
    errors,
    waitFor(condition, timeoutMs = 20_000, description = "condition") {
      if (errors.length) {
        return Promise.reject(
          new Error(`smtp sink reply hook threw before ${description}`, { cause: errors[0] }),
        );
      }
      if (condition(sink)) return Promise.resolve();
      if (closed) return Promise.reject(new Error(`smtp sink closed before ${description}`));
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(
            new Error(
              `smtp sink: timed out after ${timeoutMs} ms waiting for ${description} ` +
                `(messages=${messages.length}, connections=${connections}, ` +
                `active=${activeConnections}, dataTransfers=${dataTransfers})`,
            ),
          );
        }, timeoutMs);
        const waiter: Waiter = {
          condition: () => condition(sink),
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
          reject: (err) => {
            clearTimeout(timer);
            reject(err);
          },
          description,
        };
        waiters.add(waiter);
      });
    },
    async waitForMessages(n, timeoutMs = 20_000) {
      await sink.waitFor((s) => s.messages.length >= n, timeoutMs, `${n} message(s)`);
      return [...messages];
    },
    clearMessages() {
      messages.length = 0;
    },
    close() {
      closing ??= (async () => {
        closed = true;
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const s of sockets) s.destroy();
        await serverClosed;
        notify(); // rejects pending waiters
      })();
      return closing;
    },
    [Symbol.asyncDispose]() {
      return sink.close();
    },
  };
  return sink;
}
