/**
 * Reading one message from the DATA stream: collects the bytes, watches the header section
 * (size, field count and line length limits, core/inbound/header_limits.ts; Message-ID
 * present?), and builds the stored body with the headers we prepend
 * (`Received:`, and `Message-ID:` when missing). The client's bytes are never rewritten.
 */

import { type HeaderLimits, type HeaderProblem, HeaderScanner } from "./header_limits.ts";

/** Bytes smtp-server's SMTPStream keeps back from each DATA chunk ("\r\n.\r" at most). */
const HELD_BACK = 4;

/** One of each for every message (a decoder or encoder per use was an allocation each time). */
const latin1 = new TextDecoder("latin1");
const encoder = new TextEncoder();

/** Why a message was refused while it was read: its size, or a header limit. */
export type Refusal = "size" | "header";

/** Collects the DATA bytes of one message. */
export class MessageCollector {
  #chunks: Uint8Array[] = [];
  #size = 0;
  #header: HeaderScanner;
  /** Set once the message has been refused; further bytes are discarded. */
  refused: Refusal | null = null;

  constructor(headerLimits: HeaderLimits) {
    this.#header = new HeaderScanner(headerLimits);
  }

  /** Which header limit the message broke (when `refused` is "header"). */
  get headerProblem(): HeaderProblem | null {
    return this.#header.problem;
  }

  /** Adds a chunk; `sizeExceeded` is the library's flag for the size limit. */
  push(chunk: Uint8Array, sizeExceeded: boolean): void {
    if (this.refused) return;
    if (sizeExceeded) {
      this.refuse("size");
      return;
    }
    this.#header.push(chunk);
    if (this.#header.problem) {
      this.refuse("header");
      return;
    }
    this.#chunks.push(chunk);
    this.#size += chunk.byteLength;
  }

  /** Marks the message refused and lets go of what was collected. */
  refuse(reason: Refusal): void {
    this.refused = reason;
    this.#chunks = [];
    this.#size = 0;
  }

  /** Whether the header section has a Message-ID field. */
  hasMessageId(): boolean {
    const head = this.#headerText();
    return /(^|\n)message-id[ \t]*:/i.test(head);
  }

  #headerText(): string {
    let text = "";
    let remaining = Math.min(this.#header.bytes, this.#size);
    for (const chunk of this.#chunks) {
      if (remaining <= 0) break;
      const part = chunk.subarray(0, remaining);
      text += latin1.decode(part);
      remaining -= part.length;
    }
    return text;
  }

  /**
   * Frees the collected chunks once `build` has copied them or the pieces are written, instead
   * of at V8's next full GC.
   * smtp-server hands over views of buffers it made by joining each socket read to the last four
   * bytes of the one before (it keeps those back to find the end of DATA). Once the message has
   * ended it holds none of them but the last, whose tail it may still parse as the next command;
   * every other buffer a view covers from its start to within those four bytes is its own join,
   * now referenced only here. Anything else (pool slabs, shared slices) is left to the GC.
   *
   * With `wholeReads` (the own engine, core/inbound/engine/) the chunks are views of the
   * socket's reads, one fresh buffer each: every buffer but the last one's (which may still
   * hold the next commands) held only this message.
   */
  releaseChunks(wholeReads = false): void {
    const last = this.#chunks.at(-1)?.buffer;
    for (const chunk of this.#chunks) {
      const buffer = chunk.buffer;
      if (buffer === last || !(buffer instanceof ArrayBuffer) || buffer.detached) continue;
      if (
        !wholeReads &&
        (chunk.byteOffset !== 0 || buffer.byteLength - chunk.byteLength > HELD_BACK)
      ) continue;
      buffer.transfer(0);
    }
    this.#chunks = [];
    this.#size = 0;
  }

  /**
   * The message with `prefix` (our header lines, CRLF-terminated) in front, as pieces: the
   * prefix, then the collected chunks themselves (no copy; valid until `releaseChunks`).
   */
  pieces(prefix: string): Uint8Array[] {
    return [encoder.encode(prefix), ...this.#chunks];
  }

  /** The message with `prefix` (our header lines, CRLF-terminated) in front, in one buffer. */
  build(prefix: string): Uint8Array {
    const head = encoder.encode(prefix);
    const out = new Uint8Array(head.byteLength + this.#size);
    out.set(head, 0);
    let offset = head.byteLength;
    for (const chunk of this.#chunks) {
      out.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return out;
  }
}

/** A `Message-ID:` header for a message that has none. */
export function messageIdHeader(queueId: string, hostname: string): string {
  return `Message-ID: <${queueId}@${hostname}>\r\n`;
}
