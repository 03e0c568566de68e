/**
 * The DATA section of an SMTP transaction read off the wire (RFC 5321 §4.1.1.4, §4.5.2): finds
 * the end (`CRLF . CRLF`) and undoes dot-stuffing, with a native `indexOf` over the bytes for the only
 * place either can happen, a line that starts with a dot. The message is handed on as views of
 * the socket's own read buffers (no copy, no join with the previous read); the one or two bytes
 * of a dot sequence that a read boundary cuts are held back and resolved with the next read.
 *
 * Smuggling (the case smtp-server documents at its `_feedDataStream`): only `CRLF . CRLF` ends
 * the data. `LF . LF`, `LF . CRLF` or `CRLF . LF` are content, so a client and an upstream that
 * disagree about bare line ends cannot make us see a second message inside the first.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { indexOfByte } from "../../byte_scan.ts";

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;

/** What a line that starts at a given position turns out to be. */
const enum Start {
  /** Not a dot line (or an ordinary one): content. */
  Content,
  /** `..`: the first dot is stuffing. */
  Stuffed,
  /** `.CRLF` after a CRLF: the end of the data. */
  End,
  /** Too few bytes to tell yet. */
  Hold,
}

/**
 * Reads one message's DATA bytes, fed read by read. `feed` returns where the data ended in
 * that read (the index of the first byte after `.CRLF`), or -1 if it goes on.
 */
export class DotReader {
  /** Whether the next byte starts a line. */
  #lineStart = true;
  /** Whether that line start follows a CRLF (the data's start counts as one). */
  #crlfBefore = true;
  /** Whether the last byte fed was a CR. */
  #lastCR = false;
  /** Bytes of a dot sequence held back at a read boundary: "." (1) or ".\r" (2). */
  #held = 0;
  /** Message bytes handed on so far. */
  bytes = 0;

  constructor(private readonly emit: (part: Uint8Array) => void) {}

  #out(part: Uint8Array): void {
    if (part.length === 0) return;
    this.bytes += part.length;
    this.emit(part);
  }

  /** Classifies the line start at `p` of `buf`, with `held` bytes of it held from before. */
  #classify(buf: Uint8Array, p: number, held: number): Start {
    const at = (i: number) => i < held ? (i === 0 ? DOT : CR) : buf[p + i - held];
    const available = held + buf.length - p;
    if (available < 1) return Start.Hold;
    if (at(0) !== DOT) return Start.Content;
    if (available < 2) return Start.Hold;
    const second = at(1);
    if (second === DOT) return Start.Stuffed;
    if (second !== CR || !this.#crlfBefore) return Start.Content;
    if (available < 3) return Start.Hold;
    return at(2) === LF ? Start.End : Start.Content;
  }

  /** Feeds one read; returns the index after the end of data in it, or -1. */
  feed(bytes: Uint8Array): number {
    const buf = Buffer.isBuffer(bytes)
      ? bytes
      : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const n = buf.length;
    if (n === 0) return -1;
    let p = 0;
    let from = 0;
    if (this.#held > 0) {
      const held = this.#held;
      this.#held = 0;
      switch (this.#classify(buf, 0, held)) {
        case Start.Hold: // "." then a lone CR: now ".\r"
          this.#held = 2;
          return -1;
        case Start.End:
          return this.#end(3 - held);
        case Start.Stuffed: // held "." and buf[0] "." : drop the held one
          this.#lineStart = false;
          p = 1;
          break;
        case Start.Content:
          // Bytes of their own, not a slice of Buffer's shared pool: the collector frees
          // every buffer but the last one's once the message is written (message.ts).
          this.#out(held === 1 ? Uint8Array.of(DOT) : Uint8Array.of(DOT, CR));
          this.#lineStart = false;
          this.#lastCR = held === 2;
          break;
      }
    }
    while (true) {
      if (this.#lineStart) {
        switch (this.#classify(buf, p, 0)) {
          case Start.Hold:
            this.#out(buf.subarray(from, p));
            this.#held = n - p;
            this.#lastCR = buf[n - 1] === CR;
            return -1;
          case Start.End:
            this.#out(buf.subarray(from, p));
            return this.#end(p + 3);
          case Start.Stuffed:
            this.#out(buf.subarray(from, p));
            from = p + 1;
            p += 2;
            break;
          case Start.Content:
            break;
        }
        this.#lineStart = false;
      }
      // The next dot that starts a line. Buffer's indexOf with a two-byte needle is a loop in
      // JS (Deno 2.9), 12 % of a 100 KB message; Uint8Array's is a slower scan than ours.
      let dot = p;
      do dot = indexOfByte(buf, DOT, dot + 1); while (dot > 0 && buf[dot - 1] !== LF);
      const i = dot < 0 ? -1 : dot - 1; // the LF before it
      if (i < 0) {
        this.#out(buf.subarray(from, n));
        if (buf[n - 1] === LF && n - 1 >= p) {
          this.#lineStart = true;
          this.#crlfBefore = n >= 2 ? buf[n - 2] === CR : this.#lastCR;
        }
        this.#lastCR = buf[n - 1] === CR;
        return -1;
      }
      this.#crlfBefore = i > 0 ? buf[i - 1] === CR : this.#lastCR;
      this.#lineStart = true;
      p = i + 1;
    }
  }

  #end(after: number): number {
    this.#lineStart = true;
    this.#crlfBefore = true;
    this.#lastCR = false;
    this.#held = 0;
    return after;
  }
}
