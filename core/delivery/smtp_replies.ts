/**
 * The reply side of an outbound SMTP connection: what the remote host sends (latin1 text) cut
 * into lines, lines gathered into replies ("250-…" continues one, "250 …" ends it; RFC 5321
 * §4.2.1), and the wait for the next complete reply under the command timeout. The client
 * (smtp_client.ts) feeds it the socket's data and writes the commands.
 *
 * Talks to: nothing (the remote host's text comes in through `feed`).
 */
import { ConnectionError, type Reply } from "./smtp_types.ts";

/** The longest unfinished line kept while its end has not come. */
const MAX_PENDING = 64 * 1024;

/** Replies of one connection, in the order they came. */
export class ReplyReader {
  #buffer = "";
  #lines: string[] = [];
  #waiter: ((error?: Error) => void) | null = null;
  #closed: Error | null = null;

  /** Why the connection ended (null while it is open). */
  get closed(): Error | null {
    return this.#closed;
  }

  /** Takes the socket's next text; false when a line grew too long to be a reply. */
  feed(chunk: string): boolean {
    this.#buffer += chunk;
    let index: number;
    while ((index = this.#buffer.indexOf("\n")) >= 0) {
      const line = this.#buffer.slice(0, index).replace(/\r$/, "");
      this.#buffer = this.#buffer.slice(index + 1);
      this.#lines.push(line);
    }
    if (this.#buffer.length > MAX_PENDING) return false;
    this.#wake();
    return true;
  }

  /** The connection ended: a waiting read fails with `error` unless a reply is complete. */
  fail(error: Error) {
    if (this.#closed) return;
    this.#closed = error;
    this.#wake(error);
  }

  /** Drops what came and was not read (anything after STARTTLS's 220). */
  discard() {
    this.#lines = [];
    this.#buffer = "";
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

  /**
   * The next complete reply, waiting up to `timeoutMs` for it; `close` is called before a
   * malformed reply or the timeout is thrown (as ConnectionError).
   */
  async next(host: string, timeoutMs: number, close: () => void): Promise<Reply> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const end = this.#completeReplyEnd();
      if (end >= 0) {
        const lines = this.#lines.splice(0, end + 1);
        const code = Number.parseInt(lines[lines.length - 1].slice(0, 3), 10);
        if (!Number.isFinite(code) || code < 200 || code > 599) {
          close();
          throw new ConnectionError(`malformed reply: ${JSON.stringify(lines[0].slice(0, 100))}`);
        }
        const texts = lines.map((l) => l.slice(4));
        return { code, text: texts.join(" ").trim(), lines: texts };
      }
      if (this.#closed) throw this.#closed;
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        close();
        throw new ConnectionError(`timed out waiting for reply from ${host}`);
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
}
