/**
 * One connection of the SMTP sink (tests/helpers/smtp_sink.ts): the command loop, DATA with
 * dot-unstuffing, STARTTLS and the reply hook, over state shared with the sink.
 */
import net from "node:net";
import tls from "node:tls";
import { Buffer } from "node:buffer";
import {
  SINK_DISCONNECT,
  type SinkCommand,
  type SinkCommandContext,
  type SinkMessage,
  type SinkSession,
  type SmtpSinkOptions,
} from "./smtp_sink_types.ts";
import { defaultReply, formatReply, parsePath, replyCode } from "./smtp_sink_replies.ts";

const CR = 13;
const LF = 10;
const DOT = 46;
const EMPTY = new Uint8Array(0);
const decoder = new TextDecoder();

/** The sink's counters, changed by its connections. */
export interface SinkState {
  connections: number;
  activeConnections: number;
  maxConcurrentConnections: number;
  dataTransfers: number;
  nextQueueId: number;
  closed: boolean;
}

/** What every connection of one sink shares: settings, counters, messages and waiters. */
export interface SinkShared {
  opts: SmtpSinkOptions;
  ehloHostname: string;
  keepData: boolean;
  maxMessageSize: number;
  greeting: string;
  extensions: string[];
  starttls: SmtpSinkOptions["starttls"];
  messages: SinkMessage[];
  sockets: Set<net.Socket>;
  state: SinkState;
  /** Re-checks the waiters. */
  notify(): void;
  /** Records an exception from the reply hook so that waiters fail with it. */
  hookFailed(err: unknown): void;
}

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

/**
 * Serves one SMTP connection: greeting, commands (with the reply hook's overrides), DATA with
 * dot-unstuffing, STARTTLS; records accepted messages in `shared.messages`.
 */
export function handleSinkConnection(raw: net.Socket, shared: SinkShared): void {
  shared.sockets.add(raw);
  shared.state.connections++;
  shared.state.activeConnections++;
  shared.state.maxConcurrentConnections = Math.max(
    shared.state.maxConcurrentConnections,
    shared.state.activeConnections,
  );
  raw.setNoDelay(true);

  const session: SinkSession = {
    id: shared.state.connections,
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
    if (!shared.opts.reply) return undefined;
    const ctx: SinkCommandContext = {
      command,
      arg,
      session: snapshot(),
      messageIndex: shared.state.dataTransfers,
    };
    if (data) ctx.data = data;
    const result = shared.opts.reply(ctx);
    return result instanceof Promise ? await result : result;
  };

  const emit = (chunk: Uint8Array) => {
    dataSize += chunk.length;
    if (shared.keepData && chunk.length) parts.push(chunk);
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
        key: shared.opts.starttls!.key,
        cert: shared.opts.starttls!.cert,
      }),
    });
    socket = secure;
    shared.sockets.add(secure);
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
    secure.on("close", () => shared.sockets.delete(secure));
  };

  const handleDataEnd = async () => {
    const data = shared.keepData ? concatBytes(parts, dataSize) : EMPTY;
    const size = dataSize;
    parts = [];
    dataSize = 0;
    const override = await ask("DATA_END", "", data);
    shared.state.dataTransfers++;
    const queueId = `SINK${String(shared.state.nextQueueId++).padStart(6, "0")}`;
    const reply = override ??
      (size > shared.maxMessageSize
        ? "552 5.3.4 Message too big"
        : `250 2.0.0 Ok: queued as ${queueId}`);
    if (reply === SINK_DISCONNECT) {
      resetTransaction();
      drop();
      shared.notify();
      return;
    }
    if (replyCode(reply) >= 200 && replyCode(reply) < 300) {
      session.messagesOnConnection++;
      const bytes = data;
      shared.messages.push({
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
    shared.notify();
  };

  const handleCommand = async (line: string) => {
    const space = line.indexOf(" ");
    const verb = (space === -1 ? line : line.slice(0, space)).toUpperCase();
    const arg = space === -1 ? "" : line.slice(space + 1).trim();
    const reply = (await ask(verb, arg)) ?? defaultReply(verb, arg, session, shared);
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
        if (code === 220 && shared.opts.starttls && !session.tls) {
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
      while (!shared.state.closed) {
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
        shared.notify();
      }
    } catch (err) {
      shared.hookFailed(err);
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
    shared.sockets.delete(raw);
    shared.state.activeConnections--;
    shared.notify();
  });

  // The shared.greeting goes out before any (early-talker) input is processed.
  busy = true;
  (async () => {
    const override = await ask("CONNECT", "");
    if (override === SINK_DISCONNECT) {
      drop();
      return;
    }
    write(override ?? shared.greeting);
    busy = false;
    shared.notify();
    pump();
  })().catch((err) => {
    shared.hookFailed(err);
    drop();
  });
}
