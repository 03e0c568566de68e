/**
 * Outbound SMTP client: one TCP connection, driven as an explicit sequence of awaited steps
 * (greeting → EHLO → [STARTTLS → EHLO] → [AUTH] → [MAIL → RCPT… → DATA → body]… → QUIT), with
 * PIPELINING when offered, 8BITMIME/SMTPUTF8 parameters when needed and offered.
 *
 * Written here rather than taken from a library because delivery needs what client libraries
 * hide: the source address to bind (node:net `localAddress`), a per-recipient reply, connection
 * reuse under our own pool, and no per-message overhead on the hot path. The replies are cut
 * and gathered by smtp_replies.ts; the body's wire form is made by smtp_body.ts.
 *
 * Talks to: remote MX hosts (untrusted replies). No config of its own; callers pass options.
 */
import { connect, isIP, type Socket } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { Buffer } from "node:buffer";
import {
  ConnectionError,
  formatReply,
  type OpenOptions,
  type Reply,
  type StartTlsOptions,
  TlsError,
  type TlsInfo,
  type TransactionResult,
} from "./smtp_types.ts";
import { dataParts, DOT_CRLF, hasEightBit } from "./smtp_body.ts";
import { ReplyReader } from "./smtp_replies.ts";

export {
  ConnectionError,
  formatReply,
  type OpenOptions,
  type Reply,
  type StartTlsOptions,
  TlsError,
  type TlsInfo,
  type TransactionResult,
} from "./smtp_types.ts";
export { dataParts, dataSection, prepareBody } from "./smtp_body.ts";

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
  /** Set once STARTTLS completed. */
  tls: TlsInfo | null = null;
  #socket: Socket | TLSSocket;
  #replies = new ReplyReader();
  #commandTimeoutMs: number;

  private constructor(socket: Socket, options: OpenOptions) {
    this.#socket = socket;
    this.host = options.host;
    this.port = options.port;
    this.localAddress = options.localAddress;
    this.#commandTimeoutMs = options.commandTimeoutMs;
    socket.setNoDelay(true);
    this.#attach(socket);
  }

  #onDataBound = (chunk: string) => this.#onData(chunk);
  #onErrorBound = (error: Error) => this.#fail(new ConnectionError(error.message));
  #onCloseBound = () => this.#fail(new ConnectionError("connection closed by remote host"));

  #attach(socket: Socket | TLSSocket) {
    this.#socket = socket;
    socket.setEncoding("latin1");
    socket.on("data", this.#onDataBound);
    socket.on("error", this.#onErrorBound);
    socket.on("close", this.#onCloseBound);
  }

  #detach(socket: Socket | TLSSocket) {
    socket.off("data", this.#onDataBound);
    socket.off("error", this.#onErrorBound);
    socket.off("close", this.#onCloseBound);
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
    return this.#replies.closed !== null;
  }

  #onData(chunk: string) {
    if (this.#replies.feed(chunk)) return;
    this.#fail(new ConnectionError("reply line too long"));
    this.#socket.destroy();
  }

  #fail(error: Error) {
    this.#replies.fail(error);
  }

  #closeNow = () => this.close();

  /** Reads the next complete reply. */
  readReply(): Promise<Reply> {
    return this.#replies.next(this.host, this.#commandTimeoutMs, this.#closeNow);
  }

  #write(data: string | Uint8Array) {
    const closed = this.#replies.closed;
    if (closed) throw closed;
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
   * STARTTLS (RFC 3207) on this connection: a refusal is returned; a failed handshake or a
   * certificate refused under `verify` throws TlsError (the connection is then gone). After
   * success the capabilities are cleared: say EHLO again.
   */
  async startTls(
    options: StartTlsOptions,
  ): Promise<{ kind: "ok"; info: TlsInfo } | { kind: "refused"; reply: Reply }> {
    const reply = await this.command("STARTTLS");
    if (reply.code !== 220) return { kind: "refused", reply };
    // Anything the server sent after 220 would be a protocol violation; drop it.
    this.#replies.discard();
    const raw = this.#socket as Socket;
    this.#detach(raw);
    const name = options.servername;
    const secure = tlsConnect({
      socket: raw,
      host: name,
      servername: isIP(name) ? undefined : name,
      rejectUnauthorized: options.verify,
      ca: options.ca,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error("TLS handshake timed out")),
          this.#commandTimeoutMs,
        );
        secure.once("secureConnect", () => {
          clearTimeout(timer);
          resolve();
        });
        secure.once("error", (error) => {
          clearTimeout(timer);
          reject(error);
        });
        raw.once("close", () => {
          clearTimeout(timer);
          reject(new Error("connection closed during TLS handshake"));
        });
      });
    } catch (error) {
      secure.destroy();
      raw.destroy();
      const failed = new TlsError(`STARTTLS with ${name}: ${(error as Error).message}`);
      this.#fail(failed);
      throw this.#replies.closed ?? failed;
    }
    this.#attach(secure);
    this.capabilities.clear();
    this.tls = {
      protocol: secure.getProtocol() ?? "TLS",
      cipher: secure.getCipher()?.name ?? "",
      verified: secure.authorized,
    };
    return { kind: "ok", info: this.tls };
  }

  /** AUTH PLAIN or LOGIN, whichever the server offers; returns the final reply (235 = ok). */
  async authenticate(username: string, password: string): Promise<Reply> {
    const mechanisms = (this.capabilities.get("AUTH") ?? "").toUpperCase().split(/\s+/);
    const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");
    if (mechanisms.includes("PLAIN")) {
      return await this.command(`AUTH PLAIN ${b64(`\u0000${username}\u0000${password}`)}`);
    }
    if (mechanisms.includes("LOGIN")) {
      let reply = await this.command("AUTH LOGIN");
      if (reply.code !== 334) return reply;
      reply = await this.command(b64(username));
      if (reply.code !== 334) return reply;
      return await this.command(b64(password));
    }
    return {
      code: 530,
      text: "5.7.0 remote host offers no AUTH mechanism we speak (local)",
      lines: [],
    };
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
    if (!isAscii(sender) || recipients.some((r) => !isAscii(r))) {
      if (!this.capabilities.has("SMTPUTF8")) {
        this.needsReset = false;
        const refusal: Reply = {
          code: 553,
          text: "5.6.7 an address needs SMTPUTF8, which the remote host does not offer (local)",
          lines: [],
        };
        return { mail: refusal, rcpt: [], data: null };
      }
      params.push("SMTPUTF8");
    }
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
    // Corked, the body and ".CRLF" go out in one writev, not two sends (two TCP segments).
    this.#socket.cork();
    try {
      for (const part of dataParts(body)) this.#write(part);
    } finally {
      this.#socket.uncork();
    }
    const final = await this.readReply();
    this.messagesSent++;
    this.needsReset = false;
    return { mail, rcpt, data: final };
  }

  /**
   * Polite close: QUIT, then resolves once the peer has closed (at most 2 s later), so that a
   * connection counts against a site's limit until it is really gone.
   */
  async quit(): Promise<void> {
    if (this.#replies.closed) return;
    try {
      this.#write("QUIT\r\n");
    } catch {
      // already gone
    }
    this.#fail(new ConnectionError("connection closed"));
    const socket = this.#socket;
    if (socket.destroyed) return;
    await new Promise<void>((resolve) => {
      // The timer only cleans up after a peer that never closes.
      const timer = setTimeout(() => {
        socket.destroy();
        resolve();
      }, 2_000);
      socket.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      socket.end();
    });
  }

  /** Closes the socket at once. */
  close() {
    this.#fail(new ConnectionError("connection closed"));
    this.#socket.destroy();
  }
}

function isAscii(text: string): boolean {
  // deno-lint-ignore no-control-regex
  return /^[\x00-\x7f]*$/.test(text);
}
