/**
 * The own SMTP engine's DATA reader (core/inbound/engine/dot_reader.ts): end of data and
 * dot-unstuffing whatever way the reads are cut, checked against a line-by-line reference, and
 * the smuggling shapes (bare LF around the final dot) that must stay content.
 */
import { Buffer } from "node:buffer";
import { assertEquals } from "./helpers/assert.ts";
import { DotReader } from "../core/inbound/engine/dot_reader.ts";

/** Unterminated data has no message: only whether it ended is compared. */
function outcome(r: { body: string; rest: number }): { body: string; rest: number } {
  return r.rest < 0 ? { body: "", rest: -1 } : r;
}

/** The reference: RFC 5321 §4.5.2 line by line; `rest` is the offset after the end, or -1. */
function reference(wire: string): { body: string; rest: number } {
  return outcome(referenceAll(wire));
}

function referenceAll(wire: string): { body: string; rest: number } {
  let body = "";
  let i = 0;
  let crlfBefore = true;
  while (true) {
    if (crlfBefore && wire.startsWith(".\r\n", i)) return { body, rest: i + 3 };
    if (wire[i] === "." && wire[i + 1] === ".") i++;
    const lf = wire.indexOf("\n", i);
    if (lf < 0) return { body: body + wire.slice(i), rest: -1 };
    body += wire.slice(i, lf + 1);
    crlfBefore = wire[lf - 1] === "\r";
    i = lf + 1;
  }
}

/** Feeds `wire` cut at `cuts` (sorted offsets); returns the body and the offset after the end. */
function read(wire: string, cuts: number[]): { body: string; rest: number } {
  return outcome(readAll(wire, cuts));
}

function readAll(wire: string, cuts: number[]): { body: string; rest: number } {
  const parts: Uint8Array[] = [];
  const reader = new DotReader((part) => parts.push(part.slice()));
  const bytes = Buffer.from(wire, "latin1");
  let start = 0;
  for (const end of [...cuts, bytes.length]) {
    if (end < start) continue;
    const after = reader.feed(bytes.subarray(start, end));
    if (after >= 0) {
      return { body: Buffer.concat(parts).toString("latin1"), rest: start + after };
    }
    start = end;
  }
  return { body: Buffer.concat(parts).toString("latin1"), rest: -1 };
}

const SAMPLES = [
  ".\r\n",
  "..\r\n.\r\n",
  "a\r\n.\r\nMAIL FROM:<x@y>\r\n",
  "a\r\n..b\r\n...\r\n.\r\n",
  "a\r\n.b\r\n.\r\n",
  "..\r\n..\r\n.\r\nQUIT\r\n",
  "x\n.\nstill content\r\n.\r\n",
  "x\r\n.\nstill content\r\n.\r\n",
  "x\n.\r\nstill content\r\n.\r\n",
  "x\r.\r\nstill\r\n.\r\n",
  "\r\n.\r\n",
  ".\r.\r\n\r\n.\r\n",
  "a\r\n.\r",
  "a\r\n..",
  "line\r\n\r\n..\r\n.\r\n.\r\n",
];

Deno.test("DATA reader: every sample cut at every one and two positions matches the reference", () => {
  for (const wire of SAMPLES) {
    const expected = reference(wire);
    assertEquals(read(wire, []), expected, JSON.stringify(wire));
    for (let a = 0; a <= wire.length; a++) {
      assertEquals(read(wire, [a]), expected, `${JSON.stringify(wire)} cut at ${a}`);
      for (let b = a; b <= wire.length; b++) {
        assertEquals(read(wire, [a, b]), expected, `${JSON.stringify(wire)} cut ${a},${b}`);
      }
    }
  }
});

Deno.test("DATA reader: a read of one byte at a time matches the reference", () => {
  for (const wire of SAMPLES) {
    const cuts = [...Array(wire.length).keys()];
    assertEquals(read(wire, cuts), reference(wire), JSON.stringify(wire));
  }
});

Deno.test("DATA reader: smuggling shapes are content, only CRLF.CRLF ends the data", () => {
  const smuggled = "Subject: a\r\n\r\nbody\n.\nMAIL FROM:<evil@x>\r\n";
  assertEquals(read(smuggled + ".\r\n", []).body, smuggled);
  const mixed = "body\r\n.\nRCPT TO:<evil@x>\r\n";
  assertEquals(read(mixed + ".\r\n", []).body, mixed);
});

Deno.test("DATA reader: random messages in random reads match the reference", () => {
  let seed = 42;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const atoms = [".", "..", "\r\n", "\n", "\r", "a", "b c", ".\r\n", "\r\n.\r\n"];
  for (let round = 0; round < 2000; round++) {
    let wire = "";
    for (let i = random(30); i > 0; i--) wire += atoms[random(atoms.length)];
    const cuts: number[] = [];
    for (let at = random(4); at < wire.length; at += 1 + random(6)) cuts.push(at);
    assertEquals(read(wire, cuts), reference(wire), JSON.stringify(wire) + " " + cuts);
  }
});

Deno.test("DATA reader: the parts are views of the reads, not copies", () => {
  const seen: Uint8Array[] = [];
  const reader = new DotReader((part) => seen.push(part));
  const read1 = Buffer.from("Subject: x\r\n\r\nhello\r\n", "latin1");
  const read2 = Buffer.from("..dot\r\n.\r\nQUIT\r\n", "latin1");
  assertEquals(reader.feed(read1), -1);
  assertEquals(reader.feed(read2), 10);
  assertEquals(seen[0].buffer, read1.buffer);
  assertEquals(seen.at(-1)!.buffer, read2.buffer);
  assertEquals(reader.bytes, read1.length + ".dot\r\n".length);
});

Deno.test("DATA reader: dot bytes held across reads come back in a buffer of their own", () => {
  // The collector frees every buffer of a message but the last read's once it is written
  // (core/inbound/message.ts): a slice of Buffer's shared pool would take other buffers with it.
  for (const [first, second] of [["a\r\n.", "b\r\n.\r\n"], ["a\r\n.\r", "b\r\n.\r\n"]]) {
    const seen: Uint8Array[] = [];
    const reader = new DotReader((part) => seen.push(part));
    assertEquals(reader.feed(Buffer.from(first, "latin1")), -1);
    assertEquals(reader.feed(Buffer.from(second, "latin1")), second.length);
    const held = seen[1];
    assertEquals(new TextDecoder().decode(held), first.slice(3));
    assertEquals(held.buffer.byteLength, held.byteLength, JSON.stringify(first));
  }
});
