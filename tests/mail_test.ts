import { assertEquals } from "./helpers/assert.ts";
import {
  decodeXtext,
  domainOf,
  encodeXtext,
  isMailboxAddress,
  receivedHeader,
  rfc5322Date,
  traceHeader,
} from "../core/mail/mod.ts";

Deno.test("xtext: encodes '+', '=', spaces and non-ASCII; decoding gives the value back", () => {
  assertEquals(encodeXtext("a+b=c d"), "a+2Bb+3Dc+20d");
  for (const value of ["plain", "a+b=c d", "rfc822;üser@example.org", "+2B literal"]) {
    assertEquals(
      new TextDecoder().decode(
        Uint8Array.from(decodeXtext(encodeXtext(value)), (c) => c.charCodeAt(0)),
      ),
      value,
    );
  }
});

Deno.test("rfc5322Date: the same UTC form for a Date and for milliseconds", () => {
  const ms = Date.UTC(2030, 0, 1, 2, 3, 4);
  assertEquals(rfc5322Date(ms), "Tue, 01 Jan 2030 02:03:04 +0000");
  assertEquals(rfc5322Date(new Date(ms)), rfc5322Date(ms));
});

Deno.test("addresses: domain lower-cased, literal brackets dropped, unusable forms refused", () => {
  assertEquals(domainOf("Bob@Example.ORG"), "example.org");
  assertEquals(domainOf("bob@[127.0.0.1]"), "127.0.0.1");
  assertEquals(domainOf("nobody"), "");
  assertEquals(isMailboxAddress("bob@example.org"), true);
  assertEquals(isMailboxAddress("bob@"), false);
  assertEquals(isMailboxAddress("<bob@example.org>"), false);
});

Deno.test("trace headers: folded Received: lines, `for` only with one recipient", () => {
  const date = new Date(Date.UTC(2030, 0, 1));
  assertEquals(
    traceHeader({
      from: "outbox (row 7)",
      protocol: "SQL",
      hostname: "mx.test",
      queueId: "Q1",
      date,
    }),
    "Received: from outbox (row 7)\r\n\tby mx.test (fastmta) with SQL id Q1;\r\n\t" +
      "Tue, 01 Jan 2030 00:00:00 +0000\r\n",
  );
  assertEquals(
    receivedHeader({
      helo: null,
      clientIp: "::1",
      hostname: "mx.test",
      protocol: "ESMTP",
      queueId: "Q2",
      recipient: "bob@example.org",
      tls: null,
      date,
    }),
    "Received: from unknown (unknown [IPv6:::1])\r\n\tby mx.test (fastmta) with ESMTP id Q2" +
      "\r\n\tfor <bob@example.org>;\r\n\tTue, 01 Jan 2030 00:00:00 +0000\r\n",
  );
});
