/**
 * The fuzzer's inject v1 documents (docs/inbound.md) for the REST API and the outbox table: a
 * valid document mutated (fields removed, types swapped, huge or control-laden strings, deep
 * nesting, unknown fields), or its JSON text broken (cut, invalid UTF-8, NUL). A pure function
 * of (seed, index).
 *
 * @module
 */
import { type Prng, prng } from "../helpers/prng.ts";

const FIELDS = [
  "from",
  "to",
  "subject",
  "text",
  "html",
  "raw",
  "raw_base64",
  "headers",
  "pool",
  "priority",
  "metadata",
  "cc",
  "bcc",
  "reply_to",
];

function nest(depth: number): unknown {
  let value: unknown = 0;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

function oddValue(r: Prng): unknown {
  return r.pick<() => unknown>([
    () => null,
    () => 1e308,
    () => -1,
    () => "",
    () => true,
    () => [],
    () => ({}),
    () => "x".repeat(r.int(1_000, 200_000)),
    () => "a\r\nBcc: victim@dest.test",
    () => "\u0000\u0001\u001b[2J",
    () => "\ud800",
    () => Array.from({ length: r.int(100, 3_000) }, (_, i) => `r${i}@dest.test`),
    () => ["<r@dest.test>", "no-at-sign", "@", "r@", "r@dest.test\r\n"],
    () => nest(r.int(10, 500)),
    () => ({ nested: { deeper: { deepest: "x".repeat(100) } } }),
    () => "=?utf-8?B?" + "A".repeat(500) + "?=",
  ])();
}

/** The body text of document `index` of the run with `seed`. */
export function fuzzJson(seed: number, index: number): { body: Uint8Array; note: string } {
  const r = prng((seed ^ Math.imul(index + 7, 0x85ebca6b)) >>> 0);
  const doc: Record<string, unknown> = {
    from: "a@origin.test",
    to: ["r@dest.test"],
    subject: `api fuzz ${index}`,
    text: "hello",
  };
  const notes: string[] = [];
  const n = r.int(0, 4);
  for (let i = 0; i < n; i++) {
    const field = r.pick(FIELDS);
    if (r.chance(0.3)) {
      delete doc[field];
      notes.push(`-${field}`);
    } else {
      doc[field] = oddValue(r);
      notes.push(`~${field}`);
    }
  }
  let text = JSON.stringify(doc);
  let bytes = new TextEncoder().encode(text);
  switch (r.int(0, 9)) {
    case 0:
      bytes = bytes.subarray(0, r.int(0, bytes.length));
      notes.push("cut");
      break;
    case 1: {
      const at = r.int(0, bytes.length);
      bytes = Uint8Array.from([...bytes.subarray(0, at), 0xff, 0xc0, 0x00, ...bytes.subarray(at)]);
      notes.push("bad-utf8");
      break;
    }
    case 2:
      text = "[".repeat(r.int(1_000, 50_000));
      bytes = new TextEncoder().encode(text);
      notes.push("deep");
      break;
    case 3:
      bytes = new TextEncoder().encode(r.pick(["", "null", "[]", '"x"', "{", "1", "{}"]));
      notes.push("not-an-object");
      break;
  }
  return { body: bytes, note: notes.join(",") || "valid" };
}
