/**
 * Outbound SMTP client: one TCP connection, driven as an explicit sequence of awaited steps
 * (greeting → EHLO → [MAIL → RCPT… → DATA → body]… → QUIT), with PIPELINING when offered.
 *
 * Written here rather than taken from a library because delivery needs what client libraries
 * hide: the source address to bind (node:net `localAddress`), a per-recipient reply, connection
 * reuse under our own pool, and no per-message overhead on the hot path.
 *
 * Talks to: remote MX hosts (untrusted replies). No config of its own; callers pass options.
 */
import { connect, type Socket } from "node:net";

/** One SMTP reply (possibly multi-line). */
export interface Reply {
  code: number;
  /** The text of all lines joined with a space, without codes. */
  text: string;
  lines: string[];
}

/** Formats a reply for logs and the database: "550 5.1.1 No such user". */
export function formatReply(reply: Reply): string {
  return `${reply.code} ${reply.text}`.trim();
}

/** A failure of the connection itself (not an SMTP reply): try another host, or defer. */
export class ConnectionError extends Error {
  override name = "ConnectionError";
}

/** Options for opening a connection. */
export interface OpenOptions {
  host: string;
  port: number;
  localAddress?: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

/** The per-recipient and final replies of one mail transaction. */
export interface TransactionResult {
  mail: Reply;
  rcpt: Reply[];
  /** Final reply after the body, or the DATA command's reply if it was refused; null if not sent. */
  data: Reply | null;
}

const CRLF_DOT_CRLF = new TextEncoder().encode("\r\n.\r\n");
const DOT_CRLF = new TextEncoder().encode(".\r\n");

/**
 * Returns the body ready for the wire: bare LF turned into CRLF, lines starting with "." doubled
 * (RFC 5321 §4.5.2), ending with CRLF. Returns the input itself when nothing needs changing.
 */
export function prepareBody(body: Uint8Array): Uint8Array {
  let changes = 0;
  for (let i = 0; i < body.length; i++) {
    const b = body[i];
    if (b === 0x0a && (i === 0 || body[i - 1] !== 0x0d)) changes++;
    else if (b === 0x2e && (i === 0 || body[i - 1] === 0x0a)) changes++;
  }
  const endsWithCrlf = body.length >= 2 && body[body.length - 2] === 0x0d &&
    body[body.length - 1] === 0x0a;
  if (changes === 0 && (endsWithCrlf || body.length === 0)) return body;
  const out = new Uint8Array(body.length + changes + 2);
  let o = 0;
  for (let i = 0; i < body.length; i++) {
    const b = body[i];
    if (b === 0x0a && (i === 0 || body[i - 1] !== 0x0d)) out[o++] = 0x0d;
    else if (b === 0x2e && (i === 0 || body[i - 1] === 0x0a)) out[o++] = 0x2e;
    out[o++] = b;
  }
  if (o > 0 && !(out[o - 2] === 0x0d && out[o - 1] === 0x0a)) {
    out[o++] = 0x0d;
    out[o++] = 0x0a;
  }
  return out.subarray(0, o);
}

/** An open SMTP session with a remote host. */
export class SmtpClientConnection {
  readonly host: string;
  readonly port: number;
  readonly localAddress: string | undefined;
  remoteAddress = "";
  capabilities = new Map<string, string>();
  messagesSent = 0;
  /** Set when the previous transaction did not end cleanly, so RSET must come first. */
  needsReset = false;
  #socket: Socket;
  #buffer = "";
  #lines: string[] = [];
  #waiter: ((error?: Error) => void) | null = null;
  #closed: Error | null = null;
  #commandTimeoutMs: number;

  private constructor(socket: Socket, options: OpenOptions) {
    this.#socket = socket;
    this.host = options.host;
    this.port = options.port;
    this.localAddress = options.localAddress;
    this.#commandTimeoutMs = options.commandTimeoutMs;
    socket.setEncoding("latin1");
    socket.setNoDelay(true);
    socket.on("data", (chunk: string) => this.#onData(chunk));
    socket.on("error", (error) => this.#fail(new ConnectionError(error.message)));
    socket.on("close", () => this.#fail(new ConnectionError("connection closed by remote host")));
  }

  /** Connects and reads the greeting; a non-2xx greeting is returned, not thrown. */
  static async open(
    options: OpenOptions,
  ): Promise<{ conn: SmtpClientConnection; greeting: Reply }> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({
        host: options.host,
        port: options.port,
        localAddress: options.localAddress,
      });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new ConnectionError(`connect to ${options.host}:${options.port}: timed out`));
      }, options.connectTimeoutMs);
      s.once("connect", () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once("error", (error) => {
        clearTimeout(timer);
        reject(new ConnectionError(`connect to ${options.host}:${options.port}: ${error.message}`));
      });
    });
    const conn = new SmtpClientConnection(socket, options);
    conn.remoteAddress = (socket.remoteAddress ?? options.host).replace(/^::ffff:/, "");
    const greeting = await conn.readReply();
    return { conn, greeting };
  }

  get closed(): boolean {
    return this.#closed !== null;
  }

  #onData(chunk: string) {
    this.#buffer += chunk;
    let index: number;
    while ((index = this.#buffer.indexOf("\n")) >= 0) {
      const line = this.#buffer.slice(0, index).replace(/\r$/, "");
      this.#buffer = this.#buffer.slice(index + 1);
      this.#lines.push(line);
    }
    if (this.#buffer.length > 64 * 1024) {
      this.#fail(new ConnectionError("reply line too long"));
      this.#socket.destroy();
      return;
    }
    this.#wake();
  }

  #fail(error: Error) {
    if (this.#closed) return;
    this.#closed = error;
    this.#wake(error);
  }

  #wake(error?: Error) {
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = null;
      waiter(error);
    }
  }

  /** Index of the last line of the first complete reply in the buffer, or -1. */
  #completeReplyEnd(): number {
    for (let i = 0; i < this.#lines.length; i++) {
      const line = this.#lines[i];
      if (line.length < 4 || line[3] !== "-") return i;
    }
    return -1;
  }

  /** Reads the next complete reply. */
  async readReply(): Promise<Reply> {
    const deadline = Date.now() + this.#commandTimeoutMs;
    while (true) {
      const end = this.#completeReplyEnd();
      if (end >= 0) {
        const lines = this.#lines.splice(0, end + 1);
        const code = Number.parseInt(lines[lines.length - 1].slice(0, 3), 10);
        if (!Number.isFinite(code) || code < 200 || code > 599) {
          this.close();
          throw new ConnectionError(`malformed reply: ${JSON.stringify(lines[0].slice(0, 100))}`);
        }
        const texts = lines.map((l) => l.slice(4));
        return { code, text: texts.join(" ").trim(), lines: texts };
      }
      if (this.#closed) throw this.#closed;
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        this.close();
        throw new ConnectionError(`timed out waiting for reply from ${this.host}`);
      }
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.#waiter = null;
          resolve();
        }, remaining);
        this.#waiter = (error) => {
          clearTimeout(timer);
          if (error && this.#completeReplyEnd() < 0) reject(error);
          else resolve();
        };
      });
    }
  }

  #write(data: string | Uint8Array) {
    if (this.#closed) throw this.#closed;
    this.#socket.write(data);
  }

  /** Sends one command line and reads its reply. */
  async command(line: string): Promise<Reply> {
    this.#write(line + "\r\n");
    return await this.readReply();
  }

  /** EHLO, falling back to HELO; records capabilities. */
  async hello(name: string): Promise<Reply> {
    const reply = await this.command(`EHLO ${name}`);
    if (reply.code === 250) {
      this.capabilities.clear();
      for (const line of reply.lines.slice(1)) {
        const [keyword, ...rest] = line.split(" ");
        this.capabilities.set(keyword.toUpperCase(), rest.join(" "));
      }
      return reply;
    }
    if (reply.code >= 500) return await this.command(`HELO ${name}`);
    return reply;
  }

  /**
   * One mail transaction. With PIPELINING, MAIL, every RCPT and DATA go out in one write and
   * the replies are read in order (RFC 2920).
   */
  async transaction(
    sender: string,
    recipients: string[],
    body: Uint8Array,
  ): Promise<TransactionResult> {
    if (this.needsReset) {
      const reset = await this.command("RSET");
      if (reset.code !== 250) throw new ConnectionError(`RSET refused: ${formatReply(reset)}`);
      this.needsReset = false;
    }
    this.needsReset = true;
    const params: string[] = [];
    if (this.capabilities.has("SIZE")) params.push(`SIZE=${body.length}`);
    if (this.capabilities.has("8BITMIME") && hasEightBit(body)) params.push("BODY=8BITMIME");
    const mailLine = `MAIL FROM:<${sender}>${params.length ? " " + params.join(" ") : ""}`;
    const rcptLines = recipients.map((r) => `RCPT TO:<${r}>`);

    let mail: Reply;
    const rcpt: Reply[] = [];
    let dataReply: Reply;
    if (this.capabilities.has("PIPELINING")) {
      this.#write([mailLine, ...rcptLines, "DATA"].join("\r\n") + "\r\n");
      mail = await this.readReply();
      for (let i = 0; i < rcptLines.length; i++) rcpt.push(await this.readReply());
      dataReply = await this.readReply();
    } else {
      mail = await this.command(mailLine);
      if (mail.code !== 250) return { mail, rcpt: [], data: null };
      for (const line of rcptLines) rcpt.push(await this.command(line));
      if (!rcpt.some((r) => r.code >= 200 && r.code < 300)) return { mail, rcpt, data: null };
      dataReply = await this.command("DATA");
    }
    if (dataReply.code !== 354) return { mail, rcpt, data: mail.code === 250 ? dataReply : null };
    if (mail.code !== 250 || !rcpt.some((r) => r.code >= 200 && r.code < 300)) {
      // Pipelined DATA was accepted although nobody can receive: end it with an empty body.
      this.#write(DOT_CRLF);
      await this.readReply();
      return { mail, rcpt, data: null };
    }
    const wire = prepareBody(body);
    this.#write(wire);
    this.#write(wire.length === 0 ? DOT_CRLF : CRLF_DOT_CRLF.subarray(2));
    const final = await this.readReply();
    this.messagesSent++;
    this.needsReset = false;
    return { mail, rcpt, data: final };
  }

  /** Polite close: QUIT without waiting long for the answer. */
  async quit(): Promise<void> {
    if (this.#closed) return;
    try {
      this.#write("QUIT\r\n");
    } catch {
      // already gone
    }
    this.#fail(new ConnectionError("connection closed"));
    // end() flushes QUIT; the timer only cleans up after a peer that never closes.
    this.#socket.end();
    const timer = setTimeout(() => this.#socket.destroy(), 2_000);
    (timer as unknown as { unref?: () => void }).unref?.();
    await Promise.resolve();
  }

  /** Closes the socket at once. */
  close() {
    this.#fail(new ConnectionError("connection closed"));
    this.#socket.destroy();
  }
}

function hasEightBit(body: Uint8Array): boolean {
  for (let i = 0; i < body.length; i++) if (body[i] > 0x7f) return true;
  return false;
}
