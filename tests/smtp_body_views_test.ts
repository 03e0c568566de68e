/**
 * The DATA section of a body that is a view at any offset of a larger buffer (a spooled body, a
 * socket read): dataParts reads it a word at a time, so at every alignment and every place of a
 * bare LF or a leading dot it must send the body as is exactly when it is wire-ready (CRLF line
 * ends, no line starting with ".", a final CRLF; a bare CR alone does not count, see
 * smtp_body.ts) and dataSection's bytes otherwise.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { dataParts, dataSection } from "../core/delivery/smtp_client.ts";
import { hasEightBit } from "../core/delivery/smtp_body.ts";

const decoder = new TextDecoder("latin1");
const text = (parts: Uint8Array[]) => parts.map((p) => decoder.decode(p)).join("");

/** The rule dataParts implements, one byte at a time. */
function wireReady(body: string): boolean {
  if (!body.endsWith("\r\n") || body.startsWith(".")) return false;
  for (let i = 0; i < body.length; i++) {
    if (body[i] === "\n" && (body[i - 1] !== "\r" || body[i + 1] === ".")) return false;
  }
  return true;
}

/** A deterministic pseudo-random sequence (no flaky inputs). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

Deno.test("dataParts agrees with dataSection for bodies at every alignment", () => {
  const next = random(19);
  const alphabet = ["a", "b", ".", "\r\n", "\r\n", "\n", "\r", "\r\n.", "\xe9"];
  // Longer, mostly clean bodies too: the scan tests 16 bytes per step, then the rest.
  const clean = ["abcdefg", "a.b", "\r\n", "\r\n", "xyz", "\r\n.", "\n"];
  for (let round = 0; round < 2000; round++) {
    let body = "";
    const long = round % 2 === 1;
    const tokens = long ? clean : alphabet;
    const lines = Math.floor(next() * (long ? 40 : 12));
    for (let i = 0; i < lines; i++) {
      // The rare tokens (a bare LF, a leading dot) only now and then in a long body.
      const pick = Math.floor(next() * tokens.length);
      body += long && pick >= 5 && next() < 0.9 ? "\r\n" : tokens[pick];
    }
    if (next() < 0.6) body += "\r\n";
    const bytes = Uint8Array.from(body, (c) => c.charCodeAt(0));
    for (let offset = 0; offset < 4; offset++) {
      const backing = new Uint8Array(bytes.length + offset + 3);
      backing.set(bytes, offset);
      const view = backing.subarray(offset, offset + bytes.length);
      const expected = wireReady(body) ? body + ".\r\n" : text([dataSection(view)]);
      assertEquals(text(dataParts(view)), expected, JSON.stringify(body));
      assertEquals(hasEightBit(view), body.includes("\xe9"), JSON.stringify(body));
    }
  }
});

Deno.test("a clean body in a view goes out as itself", () => {
  const backing = new TextEncoder().encode("xAB\r\nline\r\n.\r\nz");
  const view = backing.subarray(1, 11); // "AB\r\nline\r\n"
  const parts = dataParts(view);
  assert(parts[0] === view, "no copy of a wire-ready view");
  assertEquals(text(parts), "AB\r\nline\r\n.\r\n");
});
