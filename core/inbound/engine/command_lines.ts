/**
 * Command lines of one SMTP connection cut out of its socket reads: a line may come in several
 * reads (the start is carried), and one longer than the limit is skipped up to its line end
 * without being held, then reported once as too long (the session goes on).
 *
 * @module
 */
import { Buffer } from "node:buffer";

const LF = 0x0a;
const CR = 0x0d;
const indexOfByte = Uint8Array.prototype.indexOf;

/** What `take` found in a read. */
export const enum LineResult {
  /** No complete line yet: the read was taken whole (its bytes carried or skipped). */
  Partial,
  /** A line, in `text`. */
  Line,
  /** A line over the limit (answered with 500 5.5.2, the session goes on). */
  TooLong,
}

/** Cuts command lines out of a connection's reads. */
export class CommandLines {
  #carry: Buffer | null = null;
  #skipping = false;
  /** After `take`: what follows the line in the read, or null when nothing does. */
  rest: Buffer | null = null;
  /** After `take` found a line: its text (UTF-8, without the CRLF). */
  text = "";

  /** `maxLength`: the longest line in bytes, without its line end. */
  constructor(private readonly maxLength: () => number) {}

  /** Whether the start of a line is held from an earlier read. */
  get pending(): boolean {
    return this.#carry !== null;
  }

  /** Forgets a carried line start (STARTTLS: what was pipelined before it is dropped). */
  clear(): void {
    this.#carry = null;
  }

  /** Takes one line (or the start of one) from `buf`; `rest` is what follows it. */
  take(buf: Buffer): LineResult {
    const max = this.maxLength();
    const lf = indexOfByte.call(buf, LF);
    if (lf < 0) {
      this.rest = null;
      if (this.#skipping) return LineResult.Partial;
      const length = (this.#carry?.length ?? 0) + buf.length;
      if (length > max) {
        this.#carry = null;
        this.#skipping = true;
        return LineResult.Partial;
      }
      this.#carry = this.#carry ? Buffer.concat([this.#carry, buf]) : Buffer.from(buf);
      return LineResult.Partial;
    }
    this.rest = lf + 1 < buf.length ? buf.subarray(lf + 1) : null;
    // The usual line came whole in one read: its text straight from the read, no view of it.
    let line = buf;
    if (this.#carry) {
      line = Buffer.concat([this.#carry, buf.subarray(0, lf)]);
      this.#carry = null;
    }
    if (this.#skipping) {
      this.#skipping = false;
      return LineResult.TooLong;
    }
    const length = line === buf ? lf : line.length;
    const end = length > 0 && line[length - 1] === CR ? length - 1 : length;
    if (end > max) return LineResult.TooLong;
    this.text = line.toString("utf8", 0, end);
    return LineResult.Line;
  }
}
