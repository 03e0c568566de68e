/**
 * The reply side of an outbound SMTP connection: what the remote host sends (latin1 text) cut
 * into lines, lines gathered into replies ("250-…" continues one, "250 …" ends it; RFC 5321
 * §4.2.1), and the wait for the next complete reply under the command timeout. The client
 * (smtp_client.ts) feeds it the socket's data and writes the commands.
 *
 * Per reply it makes the reply and its strings, nothing else: one timer per connection watches
 * the deadline of whatever read is waiting (re-armed only when it fires early), where a timer
 * per wait cost a setTimeout and a clearTimeout per reply.
 *
 * Talks to: nothing (the remote host's text comes in through `feed`).
 */
import { ConnectionError, type Reply } from "./smtp_types.ts";

/** The longest unfinished line kept while its end has not come. */
const MAX_PENDING = 64 * 1024;

const CR = 13;
const DASH = 45;

/** Replies of one connection, in the order they came. */
export class ReplyReader {
  #buffer = "";
  #lines: string[] = [];
  #waiter: ((error?: Error) => void) | null = null;
  #closed: Error | null = null;
  /** When the waiting read times out. */
  #deadline = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  /** When {@link #timer} fires. */
  #timerAt = 0;

  /** Why the connection ended (null while it is open). */
  get closed(): Error | null {
    return this.#closed;
  }

  /** Takes the socket's next text; false when a line grew too long to be a reply. */
  feed(chunk: string): boolean {
    const text = this.#buffer === "" ? chunk : this.#buffer + chunk;
    let start = 0;
    for (let index = text.indexOf("\n"); index >= 0; index = text.indexOf("\n", start)) {
      const end = index > start && text.charCodeAt(index - 1) === CR ? index - 1 : index;
      this.#lines.push(text.slice(start, end));
      start = index + 1;
    }
    this.#buffer = start === 0 ? text : text.slice(start);
    if (this.#buffer.length > MAX_PENDING) return false;
    this.#wake();
    return true;
  }

  /** The connection ended: a waiting read fails with `error` unless a reply is complete. */
  fail(error: Error) {
    if (this.#closed) return;
    this.#closed = error;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
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
    const lines = this.#lines;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (line.length < 4 || line.charCodeAt(3) !== DASH) return i;
    }
    return -1;
  }

  /**
   * The next complete reply if one is buffered, else null; throws (after `close`) on a
   * malformed one.
   */
  take(close: () => void): Reply | null {
    const end = this.#completeReplyEnd();
    if (end < 0) return null;
    const lines = end === 0 ? [this.#lines.shift()!] : this.#lines.splice(0, end + 1);
    const last = lines[end];
    const code = replyCode(last);
    if (code < 200 || code > 599) {
      close();
      throw new ConnectionError(`malformed reply: ${JSON.stringify(lines[0].slice(0, 100))}`);
    }
    if (end === 0) {
      const text = last.slice(4);
      return { code, text: text.trim(), lines: [text] };
    }
    const texts = lines.map((l) => l.slice(4));
    return { code, text: texts.join(" ").trim(), lines: texts };
  }

  /**
   * The next complete reply, waiting up to `timeoutMs` for it; `close` is called before a
   * malformed reply or the timeout is thrown (as ConnectionError).
   */
  async next(host: string, timeoutMs: number, close: () => void): Promise<Reply> {
    const ready = this.take(close);
    if (ready) return ready;
    const deadline = Date.now() + timeoutMs;
    while (true) {
      if (this.#closed) throw this.#closed;
      if (Date.now() >= deadline) {
        close();
        throw new ConnectionError(`timed out waiting for reply from ${host}`);
      }
      await new Promise<void>((resolve, reject) => {
        this.#waiter = (error) => {
          if (error && this.#completeReplyEnd() < 0) reject(error);
          else resolve();
        };
        this.#watch(deadline);
      });
      const reply = this.take(close);
      if (reply) return reply;
    }
  }

  /** Makes the timer wake the waiting read by `deadline`. */
  #watch(deadline: number) {
    this.#deadline = deadline;
    if (this.#timer !== null && this.#timerAt <= deadline) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timerAt = deadline;
    this.#timer = setTimeout(this.#onTimer, Math.max(0, deadline - Date.now()));
  }

  #onTimer = () => {
    this.#timer = null;
    if (this.#waiter === null) return; // nothing waits: armed again by the next wait
    const now = Date.now();
    if (now >= this.#deadline) this.#wake();
    else {
      this.#timerAt = this.#deadline;
      this.#timer = setTimeout(this.#onTimer, this.#deadline - now);
    }
  };
}

/** The reply code of a reply's last line: its first three digits, or -1. */
function replyCode(line: string): number {
  if (line.length < 3) return -1;
  let code = 0;
  for (let i = 0; i < 3; i++) {
    const digit = line.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    code = code * 10 + digit;
  }
  return code;
}
