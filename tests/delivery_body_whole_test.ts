/**
 * Delivery's body read when the head read brought the whole body (PostgreSQL and MariaDB hand
 * bodies up to WHOLE_BODY_BYTES whole: core/store/bodies.ts): the message is sent from those
 * bytes, its control headers removed, without a second read by id.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import type { LeasedUnit } from "../core/contracts/mod.ts";
import { prepareMessage } from "../core/delivery/body.ts";

const UNIT = {
  v: 1,
  unitId: "u1",
  messageId: "0123456789BCDFGH",
  domain: "x.test",
  sender: "n@shop.test",
  attempts: 0,
  createdAt: 0,
  leaseToken: "t",
  recipients: ["a@x.test"],
} as LeasedUnit;

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
