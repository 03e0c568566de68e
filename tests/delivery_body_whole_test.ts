/**
 * Delivery's body read when the head read brought the whole body (PostgreSQL and MariaDB hand
 * bodies up to WHOLE_BODY_BYTES whole: core/store/bodies.ts): the message is sent from those
 * bytes, its control headers removed, without a second read by id.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { BODY_UNIT } from "./helpers/body_unit.ts";
import { prepareMessage } from "../core/delivery/body.ts";

const UNIT = BODY_UNIT;

const SENT = `Subject: big\r\n\r\n${"x".repeat(100_000)}\r\n`;
const STORED = new TextEncoder().encode(`X-Fastmta-Pool: bulk\r\n${SENT}`);

Deno.test("a body the head read brought whole is sent from it, with no second read", async () => {
  let heads = 0;
  const source = {
    readBody: () => Promise.reject(new Error("read by id: a second query")),
    readBodyHead: () => {
      heads++;
      return Promise.resolve({ head: STORED, size: STORED.byteLength });
    },
  };
  const prepared = await prepareMessage(source, UNIT, []);
  assert(prepared.kind === "ready");
  assertEquals(prepared.message.control.get("x-fastmta-pool"), "bulk");
  const wire = await prepared.message.wire();
  assert("body" in wire);
  assertEquals(new TextDecoder().decode(wire.body), SENT);
  assertEquals(heads, 1);
});
