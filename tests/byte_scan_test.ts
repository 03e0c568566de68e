/**
 * core/byte_scan.ts: the word-at-a-time byte search agrees with Uint8Array's own indexOf for
 * every start, view offset (aligned or not), length and byte value, including bytes above 0x7f.
 */
import { assertEquals } from "./helpers/assert.ts";
import { indexOfByte } from "../core/byte_scan.ts";

/** A deterministic pseudo-random byte source (no flaky seeds). */
function bytes(n: number, seed: number, alphabet: number[]): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out[i] = alphabet[x % alphabet.length];
  }
  return out;
}

Deno.test("indexOfByte matches Uint8Array.prototype.indexOf", () => {
  const alphabets = [[0x58], [0x58, 0x58, 0x58, 0x2e], [0x2e, 0x0a, 0x0d, 0x41], [
    0xff,
    0x80,
    0x2e,
  ]];
  for (const [a, alphabet] of alphabets.entries()) {
    const whole = bytes(700, a + 1, alphabet);
    for (const offset of [0, 1, 2, 3, 5]) {
      for (const length of [0, 1, 3, 15, 16, 63, 64, 65, 200, 600]) {
        const view = whole.subarray(offset, offset + length);
        for (const byte of [0x2e, 0x0a, 0xff, 0x58]) {
          for (const from of [0, 1, 7, 63, length - 1, length, length + 5, -3]) {
            assertEquals(
              indexOfByte(view, byte, from),
              view.indexOf(byte, Math.max(0, from)),
              `alphabet ${a} offset ${offset} length ${length} byte ${byte} from ${from}`,
            );
          }
        }
      }
    }
  }
});

Deno.test("indexOfByte finds a byte at every position of a long clean buffer", () => {
  const buf = new Uint8Array(300).fill(0x58);
  for (let at = 0; at < buf.length; at++) {
    buf[at] = 0x2e;
    assertEquals(indexOfByte(buf, 0x2e), at);
    assertEquals(indexOfByte(buf.subarray(1), 0x2e), at - 1 >= 0 ? at - 1 : -1);
    buf[at] = 0x58;
  }
});
