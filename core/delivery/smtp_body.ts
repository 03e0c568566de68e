/**
 * The DATA section on the wire: CRLF line ends (bare LF always; bare CR when the body is copied
 * anyway, core/line_ends.ts) and dot-stuffing (RFC 5321 §4.5.2), then the terminating ".CRLF",
 * copying the body only when it needs changing.
 */
import { isAscii } from "node:buffer";
import { toCrlf } from "../line_ends.ts";
import { spread, zeroByte } from "../byte_scan.ts";

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

/** The line that ends the DATA section. */
export const DOT_CRLF = new TextEncoder().encode(".\r\n");

/**
 * Returns the body ready for the wire: bare LF and bare CR turned into CRLF, lines starting with "." doubled
 * (RFC 5321 §4.5.2), ending with CRLF. Returns the input itself when nothing needs changing.
 */
export function prepareBody(body: Uint8Array): Uint8Array {
  const wire = dataSection(body);
  return wire.subarray(0, wire.length - DOT_CRLF.length);
}

/**
 * The DATA section as one buffer (one write): the body as {@link prepareBody} makes it, then the
 * terminating ".CRLF". Copies the body once when its line ends are clean, twice otherwise.
 */
export function dataSection(input: Uint8Array): Uint8Array {
  const body = toCrlf(input);
  let changes = 0;
  for (let i = 0; i < body.length; i++) {
    if (body[i] === 0x2e && (i === 0 || body[i - 1] === 0x0a)) changes++;
  }
  const out = new Uint8Array(body.length + changes + 2 + DOT_CRLF.length);
  let o;
  if (changes === 0) {
    out.set(body);
    o = body.length;
  } else {
    o = 0;
    for (let i = 0; i < body.length; i++) {
      const b = body[i];
      if (b === 0x2e && (i === 0 || body[i - 1] === 0x0a)) out[o++] = 0x2e;
      out[o++] = b;
    }
  }
  if (o > 0 && !(out[o - 2] === 0x0d && out[o - 1] === 0x0a)) {
    out[o++] = 0x0d;
    out[o++] = 0x0a;
  }
  out.set(DOT_CRLF, o);
  return out.subarray(0, o + DOT_CRLF.length);
}

/**
 * The DATA section as buffers to write in order. A body that is already wire-ready (CRLF line
 * ends, no line starting with ".", ending with CRLF) goes out as is, followed by ".CRLF": no
 * copy of the body, which for large messages is most of the delivery worker's garbage.
 */
export function dataParts(body: Uint8Array): Uint8Array[] {
  const n = body.length;
  // A bare CR alone does not leave this path (the inject format makes them CRLF at intake,
  // core/inbound/inject_format.ts); with any other change needed, dataSection turns them into
  // CRLF too. Measured: checking for bare CRs here as well made this 2.6× slower on a clean
  // 100 KB body.
  if (n >= 2 && body[n - 2] === 0x0d && body[n - 1] === 0x0a && body[0] !== 0x2e) {
    if (wireClean(body)) return [body, DOT_CRLF];
  }
  return [dataSection(body)];
}

/**
 * Whether every LF of `body` follows a CR and no line after the first starts with ".". Tests
 * four 32-bit words (16 bytes) per step and looks closer only at words that hold an LF: no call
 * per line (a `Uint8Array.prototype.indexOf` call costs ~80 ns in Deno 2.9, 63 µs CPU for a clean
 * 100 KB body; one word per step took 37, four take ~20) and no allocation (a latin1 string of
 * the body was as fast alone but cost the delivery worker its young-generation GCs;
 * bench/RESULTS.md, 2026-12-04).
 */
function wireClean(body: Uint8Array): boolean {
  const n = body.length;
  const head = Math.min((4 - (body.byteOffset & 3)) & 3, n);
  const words = (n - head) >>> 2;
  const tail = head + words * 4;
  for (let i = 0; i < head; i++) if (body[i] === LF && !lineEndClean(body, i)) return false;
  if (words === 0) return tailClean(body, tail);
  const word = new Uint32Array(body.buffer, body.byteOffset + head, words);
  let k = 0;
  for (; k + 4 <= words; k += 4) {
    const a = lfIn(word[k]), b = lfIn(word[k + 1]), c = lfIn(word[k + 2]), d = lfIn(word[k + 3]);
    if ((a | b | c | d) === 0) continue;
    const at = head + k * 4;
    if (a !== 0 && !wordClean(body, at)) return false;
    if (b !== 0 && !wordClean(body, at + 4)) return false;
    if (c !== 0 && !wordClean(body, at + 8)) return false;
    if (d !== 0 && !wordClean(body, at + 12)) return false;
  }
  for (; k < words; k++) if (lfIn(word[k]) !== 0 && !wordClean(body, head + k * 4)) return false;
  return tailClean(body, tail);
}

const LF_WORD = spread(LF);

/** Non-zero if one of the four bytes of `x` is an LF (it becomes a zero byte). */
function lfIn(x: number): number {
  return zeroByte(x ^ LF_WORD);
}

/** Whether each LF in the four bytes from `at` ends a clean line. */
function wordClean(body: Uint8Array, at: number): boolean {
  for (let i = at; i < at + 4; i++) if (body[i] === LF && !lineEndClean(body, i)) return false;
  return true;
}

/** Whether each LF from `from` to the end ends a clean line. */
function tailClean(body: Uint8Array, from: number): boolean {
  for (let i = from; i < body.length; i++) {
    if (body[i] === LF && !lineEndClean(body, i)) return false;
  }
  return true;
}

/** Whether the LF at `i` ends a CRLF and the next line does not start with ".". */
function lineEndClean(body: Uint8Array, i: number): boolean {
  return i > 0 && body[i - 1] === CR && body[i + 1] !== DOT;
}

/**
 * Whether the body has any byte above 0x7f (it then needs 8BITMIME). node:buffer's native
 * `isAscii`: 2 µs CPU for 100 KB, where a loop over the bytes in JS took 153.
 */
export function hasEightBit(body: Uint8Array): boolean {
  return !isAscii(body);
}
