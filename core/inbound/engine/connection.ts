/**
 * One SMTP connection of the own engine: reads command lines (command_lines.ts) and DATA
 * (data.ts) off the socket, runs each command (commands.ts) in order, batches the replies to
 * pipelined commands into one write, and keeps the guards against hostile clients: greeting
 * delay, error limit, one deadline per command line and for the whole DATA (time the server
 * spends does not count), idle timeout, an over-long line answered with 500 5.5.2 while the
 * session goes on, input paused while a handler runs (a client cannot make us buffer without
 * bound), and STARTTLS upgrading the socket with node:tls, bytes pipelined after it dropped.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { SMTPServerSession } from "smtp-server";
import { Clock } from "./clock.ts";
import { newSession, resetSession, transmissionType } from "./session.ts";
import { runCommand } from "./commands.ts";
import { CommandLines, LineResult } from "./command_lines.ts";
import { DataTransfer } from "./data.ts";
import type { DotReader } from "./dot_reader.ts";
import {
  type CodeChoice,
  constantReply,
  formatReply,
  type FormattedReply,
  PendingReplies,
} from "./replies.ts";
import { type TlsUpgradeOptions, upgradeToTls } from "./tls_upgrade.ts";

export type { TlsUpgradeOptions };
import type { CommandTarget, EngineHandlers, EngineOptions } from "./types.ts";

const QUIET = new Set(["ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH"]);
/** Each disabled-command list upper-cased once (every command asks; sessions share lists). */
const DISABLED_SETS = new WeakMap<string[], Set<string>>();
const START_DATA = constantReply(354, "End data with <CR><LF>.<CR><LF>");
/** A closed connection waits this long at most for the client to close its side. */
const HALF_CLOSE_MS = 5_000;

/** What a connection needs from its server. */
export interface ConnectionHost {
  options: EngineOptions;
  handlers: EngineHandlers;
  connections: Set<Connection>;
  shuttingDown: boolean;
  tlsOptions(): TlsUpgradeOptions;
  onError(error: Error): void;
}

/** One client connection. The fields are the engine's own (commands.ts reads them). */
export class Connection implements CommandTarget {
  readonly name: string;
  readonly session: SMTPServerSession;
  socket: Socket;
  secure: boolean;
  hostNameAppearsAs: string | false = false;
  openingCommand: string | false = false;
  unrecognized = 0;
  transactions = 0;
  closing = false;
  closed = false;
  upgrading = false;
  /** Handler of the next line instead of a command (an AUTH continuation). */
  next: ((line: string, done: () => void) => void) | null = null;

  #out = new PendingReplies();
  #input: Buffer | null = null;
  #lines: CommandLines;
  #ready = false;
  #busy = false;
  #draining = false;
  #paused = false;
  #running = false;
  #errors = 0;
  /** The DATA being read (null once its end was found). */
  #reader: DotReader | null = null;
  /** The DATA until its reply is queued. */
  #transfer: DataTransfer | null = null;
  #clock: Clock;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  /** QUIT took the short way out (quit()): the clock's next limit destroys a stuck socket. */
  #quitting = false;

  constructor(readonly host: ConnectionHost, socket: Socket) {
    this.socket = socket;
    this.name = host.options.name;
    this.secure = host.options.secure;
    this.session = newSession(socket, this.secure, () => this.socket);
    this.#lines = new CommandLines(() => host.options.maxCommandLength);
    const { idleTimeoutMs, commandTimeoutMs } = host.options;
    this.#clock = new Clock(
      {
        busy: () => this.#busy,
        deadline: () => {
          if (this.#quitting) return this.socket.destroy();
          this.send(421, "4.4.2 Error: timeout exceeded, closing connection");
          this.#flush();
        },
        idle: () => {
          if (this.#quitting) return this.socket.destroy();
          this.send(421, "Timeout - closing connection");
          this.#flush();
        },
      },
      idleTimeoutMs,
      commandTimeoutMs,
    );
    this.resetSession();
  }

  /** Starts the session: limits, onConnect, onSecure (smtps), greeting. */
  start(): void {
    const { options, handlers } = this.host;
    this.socket.setNoDelay(true);
    this.#listen(this.socket);
    if (options.maxClients && this.host.connections.size > options.maxClients) {
      this.send(421, `${this.name} Too many connected clients, try again in a moment`, "none");
      return this.#flush();
    }
    this.armDeadline(options.commandTimeoutMs);
    const ready = () => {
      handlers.onConnect(this.session, (error) => {
        if (error) return this.#refuse(error);
        const greet = () => {
          this.#ready = true;
          const banner = options.banner ? ` ${options.banner}` : "";
          this.send(220, `${this.name} ESMTP${banner}`, "none");
          this.process();
        };
        if (!this.secure) return greet();
        handlers.onSecure(this.socket as TLSSocket, this.session, (error) => {
          if (error) return this.#refuse(error);
          greet();
        });
      });
    };
    if (options.greetingDelayMs <= 0) return ready();
    const timer = setTimeout(ready, options.greetingDelayMs);
    Deno.unrefTimer(timer as unknown as number);
  }

  #listen(socket: Socket): void {
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", (error: Error & { code?: string }) => {
      if (error.code && QUIET.has(error.code)) return this.close();
      this.host.onError(error);
    });
    socket.on("close", () => this.#onClose());
  }

  #onData(chunk: Buffer): void {
    if (this.closing || this.upgrading) return;
    this.#clock.input();
    this.#input = this.#input ? Buffer.concat([this.#input, chunk]) : chunk;
    this.process();
  }

  /** Whether a command is offered to this session (not disabled). */
  isSupported(command: string): boolean {
    const disabled = (this.session as { disabledCommands?: string[] }).disabledCommands ??
      this.host.options.disabledCommands;
    let upper = DISABLED_SETS.get(disabled);
    if (!upper) DISABLED_SETS.set(disabled, upper = new Set(disabled.map((d) => d.toUpperCase())));
    return !upper.has(command);
  }

  /** The transaction starts over (EHLO, RSET, after DATA, after STARTTLS). */
  resetSession(): void {
    resetSession(this.session, this);
  }

  transmissionType(): string {
    return transmissionType(this);
  }

  /** Queues a reply; 5xx count towards the error limit, 421 closes the connection. */
  send(code: number, text: string | string[] = "", choice?: CodeChoice): void {
    if (this.closing || this.closed) return;
    this.#queue(code, formatReply(code, text, choice), null);
  }

  sendFormatted(reply: FormattedReply): void {
    if (this.closing || this.closed) return;
    this.#queue(reply.code, reply.wire, reply.bytes ?? null);
  }

  #queue(code: number, wire: string, bytes: Uint8Array | null): void {
    this.#out.add(wire, bytes);
    if (code === 421) return this.close();
    if (code >= 500 && ++this.#errors >= this.host.options.maxErrors) {
      this.send(421, "4.7.0 Error: too many errors, closing connection");
    }
  }

  #refuse(error: Error & { responseCode?: number }): void {
    this.send(error.responseCode || 554, error.message, "none");
    this.close();
  }

  #flush(): void {
    const out = this.#out.take();
    if (out === null || this.socket.destroyed || !this.socket.writable) return;
    this.socket.write(out);
    if (this.socket.writableNeedDrain && !this.#draining) {
      this.#draining = true;
      this.socket.once("drain", () => {
        this.#draining = false;
        this.process();
      });
    }
  }

  /** Waits for a handler: input is held until `done` is called. */
  wait(): () => void {
    this.#busy = true;
    return this.#done;
  }

  /** What `wait` returns: one function per connection, not one per MAIL, RCPT and AUTH line. */
  readonly #done = () => {
    this.#busy = false;
    this.process();
  };

  /** Runs what input there is, until it runs out or a handler or the socket makes us wait. */
  process(): void {
    if (this.#running || this.closed) return;
    this.#running = true;
    try {
      while (this.#input && !this.#busy && !this.#draining && !this.closing && !this.upgrading) {
        if (!this.#ready && this.host.options.greetingDelayMs <= 0) break;
        const buf = this.#input;
        if (this.#reader) {
          const end = this.#reader.feed(buf);
          this.#input = end >= 0 && end < buf.length ? buf.subarray(end) : null;
          if (end >= 0) this.#endData();
          continue;
        }
        this.#line(buf);
      }
    } finally {
      this.#running = false;
    }
    this.#flush();
    const hold = this.#busy || this.#draining || (!this.#ready && !this.closing);
    if (hold !== this.#paused && !this.closed) {
      this.#paused = hold;
      if (hold) this.socket.pause();
      else this.socket.resume();
    }
  }

  /** Takes one command line (or the start of one) from `buf`. */
  #line(buf: Buffer): void {
    const lines = this.#lines;
    const result = lines.take(buf);
    this.#input = lines.rest;
    if (result === LineResult.Partial) return;
    if (result === LineResult.TooLong) return this.send(500, "5.5.2 Error: line too long");
    const text = lines.text;
    if (this.#ready && this.next) {
      const next = this.next;
      this.next = null;
      next(text, this.wait());
    } else {
      runCommand(this, text, this.#ready);
    }
    if (!this.closing) {
      const { commandTimeoutMs, dataTimeoutMs } = this.host.options;
      this.armDeadline(this.#reader ? dataTimeoutMs : commandTimeoutMs);
    }
  }

  /** DATA accepted: what follows is the message, up to `CRLF . CRLF`. */
  startData(): void {
    const transfer = new DataTransfer(this.host.options.size);
    this.#transfer = transfer;
    this.#reader = transfer.reader;
    this.host.handlers.onData(transfer.source, this.session, (error, message) => {
      transfer.result = { error, message };
      if (!this.#reader && this.#transfer === transfer) this.#finishData();
    });
    this.sendFormatted(START_DATA);
  }

  #endData(): void {
    const transfer = this.#transfer!;
    this.#reader = null;
    this.#busy = true;
    transfer.source.emit("end");
    if (transfer.result && this.#transfer === transfer) this.#finishData();
  }

  #finishData(): void {
    const { code, text, choice } = this.#transfer!.reply();
    this.#transfer = null;
    this.send(code, text, choice);
    this.transactions++;
    this.unrecognized = 0;
    this.resetSession();
    this.armDeadline(this.host.options.commandTimeoutMs);
    this.#busy = false;
    this.process();
  }

  /** Sets the deadline of the next command line (or of the whole DATA). */
  armDeadline(ms: number): void {
    this.#clock.arm(ms);
  }

  /** Answers 220 and upgrades the socket to TLS; what the client pipelined after is dropped. */
  startTls(): void {
    this.send(220, "Ready to start TLS");
    this.#flush();
    this.upgrading = true;
    this.#input = null;
    this.#lines.clear();
    upgradeToTls(this.socket, this.host.tlsOptions(), {
      closed: () => this.#onClose(),
      secure: (tls) => {
        this.socket = tls;
        this.#listen(tls);
        this.secure = true;
        this.upgrading = false;
        this.hostNameAppearsAs = false;
        this.openingCommand = false;
        const session = this.session as SMTPServerSession & Record<string, unknown>;
        session.secure = true;
        session.user = undefined;
        session.tlsOptions = tls.getCipher() as never;
        session.servername = (tls as { servername?: string }).servername;
        this.resetSession();
        this.host.handlers.onSecure(tls, this.session, (error) => {
          if (error) return this.#refuse(error);
          this.#paused = false;
          this.process();
        });
      },
    });
  }

  /**
   * QUIT: with nothing pipelined after it, the socket goes as soon as the 221 is written, not
   * when the client's FIN comes back (one more read wake-up and a grace timer per connection).
   * Input after QUIT takes close()'s half-close instead: destroying a socket with unread input
   * sends a reset, which can cost the client the 221. A client that never reads the 221 keeps
   * `finish` from coming; the clock's next limit (idle or command deadline) destroys it then.
   */
  quit(): void {
    const socket = this.socket;
    const { idleTimeoutMs, commandTimeoutMs } = this.host.options;
    const unguarded = idleTimeoutMs <= 0 && commandTimeoutMs <= 0;
    if (
      this.#input || this.#lines.pending || this.closing || this.closed || unguarded ||
      socket.destroyed || !socket.writable
    ) return this.close();
    this.#flush();
    this.closing = true;
    this.#quitting = true;
    this.host.connections.delete(this);
    socket.end(() => socket.destroy());
  }

  /** Ends the session: replies go out, then our side closes; the socket goes after a grace. */
  close(): void {
    if (this.closing || this.closed) return;
    this.#flush();
    this.closing = true;
    this.host.connections.delete(this);
    if (!this.socket.destroyed && this.socket.writable) this.socket.end();
    if (this.#paused) this.socket.resume();
    clearTimeout(this.#closeTimer);
    this.#closeTimer = setTimeout(() => {
      if (!this.socket.destroyed) this.socket.destroy();
    }, Math.min(this.host.options.idleTimeoutMs || HALF_CLOSE_MS, HALF_CLOSE_MS));
    Deno.unrefTimer(this.#closeTimer as unknown as number);
  }

  #onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.closing = false;
    this.#clock.stop();
    clearTimeout(this.#closeTimer);
    this.host.connections.delete(this);
    const transfer = this.#transfer;
    if (transfer && this.#reader) {
      this.#reader = null;
      this.#transfer = null;
      transfer.source.emit(
        "error",
        new Error("Connection closed before the message was received in full"),
      );
    }
    setImmediate(() => this.host.handlers.onClose(this.session, () => false));
  }
}
