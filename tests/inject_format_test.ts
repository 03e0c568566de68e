/** The inject message format (v1): what is accepted, what is dead-lettered and why. */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { injectedMessage, MessageTooLarge, parseInject } from "../core/inbound/inject_format.ts";
import { composeMessage } from "../core/inbound/compose.ts";

const limits = { maxSize: 1_000_000, maxRecipients: 10 };
const encode = (value: unknown) =>
  new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));

function reason(value: unknown): string {
  const parsed = parseInject(encode(value), limits);
  assert(!parsed.ok, `expected a rejection for ${JSON.stringify(value)}`);
  return parsed.reason;
}

Deno.test("inject: a raw message is taken as is, after our Received header", () => {
  const raw = "From: a@origin.test\r\nTo: b@dest.test\r\nSubject: hi\r\n\r\nbody\r\n";
  const parsed = parseInject(
    encode({ from: "a@origin.test", to: ["b@dest.test"], raw, pool: "p1", priority: 2 }),
    limits,
  );
  assert(parsed.ok);
  assertEquals(parsed.message.meta, { pool: "p1", priority: 2 });
  const message = injectedMessage(parsed, {
    hostname: "mx.test",
    source: { from: "fastmta.inject (AMQP)", protocol: "AMQP" },
    maxSize: 1_000_000,
  });
  const text = new TextDecoder().decode(message.body);
  assertMatch(
    text,
    new RegExp(
      `^Received: from fastmta\\.inject \\(AMQP\\)\\r\\n\\tby mx\\.test \\(fastmta\\) with AMQP id ${message.id};`,
    ),
  );
  assert(text.endsWith(raw));
  assertEquals(message.channel, "inject");
  assertEquals(message.recipients, ["b@dest.test"]);
});

Deno.test("inject: raw_base64 carries any bytes", () => {
  const bytes = new Uint8Array([83, 117, 98, 106, 101, 99, 116, 58, 32, 0xe9, 13, 10, 13, 10]);
  const parsed = parseInject(
    encode({ from: "", to: ["b@dest.test"], raw_base64: btoa(String.fromCharCode(...bytes)) }),
    limits,
  );
  assert(parsed.ok && parsed.content.kind === "raw");
  assertEquals([...parsed.content.bytes], [...bytes]);
  assertEquals(parsed.message.sender, "", "the null sender");
});

Deno.test("inject: structured fields are composed into a MIME message", () => {
  const parsed = parseInject(
    encode({
      from: "a@origin.test",
      to: ["b@dest.test", "c@dest.test"],
      subject: "Grüße",
      text: "Hallo\nWelt",
      html: "<p>Hallo</p>",
      headers: { "X-Tag": "t1", From: "Shop <a@origin.test>" },
      metadata: { tenant: "t1" },
    }),
    limits,
  );
  assert(parsed.ok);
  const text = new TextDecoder().decode(
    injectedMessage(parsed, {
      hostname: "mx.test",
      source: { from: "q (AMQP)", protocol: "AMQP" },
      maxSize: 1_000_000,
    }).body,
  );
  assertMatch(text, /\r\nFrom: Shop <a@origin\.test>\r\n/);
  assertMatch(text, /\r\nTo: <b@dest\.test>, <c@dest\.test>\r\n/);
  assertMatch(text, /\r\nSubject: =\?UTF-8\?B\?R3LDvMOfZQ==\?=\r\n/);
  assertMatch(text, /\r\nMessage-ID: <\w+@mx\.test>\r\n/);
  assertMatch(text, /Content-Type: multipart\/alternative; boundary="([^"]+)"/);
  assertMatch(
    text,
    /Content-Type: text\/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\nHallo\r\nWelt\r\n/,
  );
  assertEquals(parsed.message.meta, { metadata: { tenant: "t1" } });
});

Deno.test("inject: a text-only message is a single part; non-ASCII text is base64", () => {
  const composed = composeMessage({
    from: "a@o.test",
    to: ["b@d.test"],
    text: "é",
    messageId: "x@y",
  });
  assertMatch(
    composed,
    /Content-Type: text\/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nw6k=\r\n$/,
  );
  assert(!composed.includes("multipart"));
});

Deno.test("inject: malformed messages are refused with a reason", () => {
  assertMatch(reason("{ not json"), /not UTF-8 JSON/);
  assertMatch(reason([1]), /expected a JSON object/);
  assertMatch(reason({ v: 2, from: "", to: ["a@b.test"], raw: "x" }), /unknown format version/);
  assertMatch(reason({ from: "no-at-sign", to: ["a@b.test"], raw: "x" }), /invalid "from"/);
  assertMatch(reason({ from: "", to: [], raw: "x" }), /invalid "to"/);
  assertMatch(reason({ from: "", to: ["not an address"], raw: "x" }), /invalid recipient/);
  assertMatch(reason({ from: "", to: ["a@b.test"] }), /exactly one of/);
  assertMatch(reason({ from: "", to: ["a@b.test"], raw: "x", text: "y" }), /exactly one of/);
  assertMatch(reason({ from: "", to: ["a@b.test"], raw_base64: "!!" }), /invalid "raw_base64"/);
  assertMatch(
    reason({ from: "", to: ["a@b.test"], raw: "x", priority: 1.5 }),
    /invalid "priority"/,
  );
  assertMatch(
    reason({ from: "", to: ["a@b.test"], text: "x", headers: { "X-A": "v\r\nBcc: evil@x.test" } }),
    /invalid "headers.X-A": CR and LF/,
  );
  assertMatch(
    reason({ from: "", to: Array.from({ length: 11 }, (_, i) => `r${i}@b.test`), raw: "x" }),
    /too many recipients/,
  );
  assertMatch(
    reason({ from: "", to: ["a@b.test"], raw: "x".repeat(1_000_001) }),
    /too large/,
  );
});

Deno.test("inject: a message over the size limit once composed is refused, naming the limit", () => {
  const text = "word ".repeat(2_000); // 10 000 bytes of text; composing adds headers
  const parsed = parseInject(encode({ from: "a@x.test", to: ["b@y.test"], text }), limits);
  assert(parsed.ok);
  let refusal: unknown;
  try {
    injectedMessage(parsed, {
      hostname: "mx.test",
      source: { from: "q (AMQP)", protocol: "AMQP" },
      maxSize: 10_000,
    });
  } catch (error) {
    refusal = error;
  }
  assert(refusal instanceof MessageTooLarge, `expected MessageTooLarge, got ${refusal}`);
  assertMatch(refusal.message, /^message too large: \d+ bytes \(at most 10000\)$/);
  // The same document within the limit is taken.
  injectedMessage(parsed, {
    hostname: "mx.test",
    source: { from: "q (AMQP)", protocol: "AMQP" },
    maxSize: 20_000,
  });
});

Deno.test("inject: a NUL in any field is refused naming the field (PostgreSQL would refuse it for ever)", () => {
  assertMatch(reason({ from: "a@origin.test", to: ["b@dest.test"], text: "x\u0000y" }), /"text"/);
  assertMatch(reason({ from: "a\u0000@origin.test", to: ["b@dest.test"], text: "x" }), /"from"/);
  assertMatch(
    reason({ from: "a@origin.test", to: ["b@dest.test"], headers: { "X-A": "\u0000" }, text: "x" }),
    /NUL/,
  );
});
