/**
 * Delivery's body read for a spooled message (core/delivery/body.ts): a body larger than its
 * head is read whole from the segment the head named (`readSpooled`), never by id through SQL;
 * a segment freed in between makes the message missing, as a deleted row does.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { BODY_UNIT } from "./helpers/body_unit.ts";
import { prepareMessage } from "../core/delivery/body.ts";
import type { SpoolRef } from "../core/spool/mod.ts";

const UNIT = BODY_UNIT;

const STORED = new TextEncoder().encode(`Subject: big\r\n\r\n${"x".repeat(40_000)}\r\n`);
const AT: SpoolRef = { segment: "s1", offset: 123, length: STORED.byteLength };

function source(spooled: Uint8Array | null, reads: SpoolRef[]) {
  return {
    readBody: () => Promise.reject(new Error("read by id: a second query")),
    readBodyHead: () =>
      Promise.resolve({ head: STORED.subarray(0, 16_384), size: STORED.byteLength, spooled: AT }),
    readSpooled: (ref: SpoolRef) => {
      reads.push(ref);
      return Promise.resolve(spooled);
    },
  };
}

Deno.test("a spooled body larger than its head is read from where the head said", async () => {
  const reads: SpoolRef[] = [];
  const prepared = await prepareMessage(source(STORED, reads), UNIT, []);
  assert(prepared.kind === "ready");
  const wire = await prepared.message.wire();
  assert("body" in wire);
  assertEquals(wire.body, STORED);
  assertEquals(reads, [AT]);
});

Deno.test("a spooled body whose segment was freed is missing", async () => {
  const prepared = await prepareMessage(source(null, []), UNIT, []);
  assert(prepared.kind === "ready");
  assertEquals(await prepared.message.wire(), { missing: true });
});
