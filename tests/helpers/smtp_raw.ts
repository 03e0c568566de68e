/**
 * A raw SMTP line client for tests that must misbehave on purpose (talk early, send overlong
 * lines, trickle bytes, hold connections): writes exactly what the test says and parses the
 * server's replies. Plain TCP only (node:net, so a source address can be chosen).
 *
 * @module
 */
import net from "node:net";
import { Buffer } from "node:buffer";
import { withTimeout } from "./wait.ts";

/** One SMTP reply. */
export interface RawReply {
  code: number;
  /** Text lines without the code and separator. */
  lines: string[];
  /** All lines joined with "\n". */
  text: string;
}

/** A connection to an SMTP server. */
export class RawSmtp {
  #socket: net.Socket;
  #buffer = "";
  #replies: RawReply[] = [];
  #waiters: { resolve: (r: RawReply) => void; reject: (e: Error) => void }[] = [];
  #closed = false;
  #partial: string[] = [];
  /** Resolves when the server (or we) closed the connection. */
  readonly closed: Promise<void>;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => this.#onData(chunk));
    socket.on("error", () => {});
    this.closed = new Promise((resolve) => {
      socket.on("close", () => {
        this.#closed = true;
        for (const w of this.#waiters.splice(0)) {
          w.reject(new Error(`connection closed (unparsed: ${JSON.stringify(this.#buffer)})`));
        }
        resolve();
      });
    });
  }

  /** Connects; does not read the greeting (call `read()`). */
  static connect(
    host: string,
    port: number,
    options: { localAddress?: string } = {},
  ): Promise<RawSmtp> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port, localAddress: options.localAddress }, () => {
        socket.off("error", reject);
        resolve(new RawSmtp(socket));
      });
      socket.once("error", reject);
    });
  }

  /** Whether the connection is closed. */
  get isClosed(): boolean {
    return this.#closed;
  }

  #onData(chunk: string) {
    this.#buffer += chunk;
    while (true) {
      const end = this.#buffer.indexOf("\r\n");
      if (end < 0) break;
      const line = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + 2);
      this.#partial.push(line.slice(4));
      if (line[3] !== "-") {
        const lines = this.#partial;
        this.#partial = [];
        const reply = { code: Number(line.slice(0, 3)), lines, text: lines.join("\n") };
        const waiter = this.#waiters.shift();
        if (waiter) waiter.resolve(reply);
        else this.#replies.push(reply);
      }
    }
  }

  /** The next reply (rejects if the connection closes first, or after `timeoutMs`). */
  read(timeoutMs = 10_000): Promise<RawReply> {
    const ready = this.#replies.shift();
    if (ready) return Promise.resolve(ready);
    if (this.#closed) return Promise.reject(new Error("connection closed"));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = {
        resolve: (r: RawReply) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  /** Writes raw text (add "\r\n" yourself). */
  write(data: string | Uint8Array): void {
    this.#socket.write(typeof data === "string" ? Buffer.from(data, "latin1") : data);
  }

  /** Sends one command line and reads its reply. */
  async command(line: string, timeoutMs?: number): Promise<RawReply> {
    this.write(line + "\r\n");
    return await this.read(timeoutMs);
  }

  /** Waits until the server closes the connection (rejects after `timeoutMs`). */
  async waitClosed(timeoutMs = 10_000): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.closed,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error("server did not close the connection")),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** Closes our side and waits for the close. */
  async close(): Promise<void> {
    this.#socket.destroy();
    await this.closed;
  }
}

/**
 * Minimal raw SMTP client: writes each chunk as its own write and reads until
 * `finalReplies` complete replies ("ddd " lines) arrived or the peer closed.
 */
export async function rawSmtp(
  hostname: string,
  port: number,
  chunks: string[],
  finalReplies: number,
): Promise<string[]> {
  const conn = await Deno.connect({ hostname, port });
  try {
    conn.setNoDelay(true);
    const lines: string[] = [];
    let text = "";
    let finals = 0;
    const reader = (async () => {
      const buf = new Uint8Array(65536);
      while (finals < finalReplies) {
        const n = await conn.read(buf);
        if (n === null) break;
        text += new TextDecoder().decode(buf.subarray(0, n));
        let i;
        while ((i = text.indexOf("\r\n")) !== -1) {
          const line = text.slice(0, i);
          text = text.slice(i + 2);
          lines.push(line);
          if (/^\d{3} /.test(line)) finals++;
        }
      }
    })();
    for (const chunk of chunks) await conn.write(new TextEncoder().encode(chunk));
    await withTimeout(reader, 10_000, `rawSmtp: got only ${lines.length} lines`);
    return lines;
  } finally {
    conn.close();
  }
}
