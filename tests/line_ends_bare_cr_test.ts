/**
 * Issue 18: a bare CR inside a message (e.g. a REST `raw`) is turned into CRLF on the wire, as a
 * bare LF is, and the DKIM signer covers the same bytes.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { dataParts, dataSection, prepareBody } from "../core/delivery/smtp_client.ts";
import { toCrlf } from "../core/dkim/mod.ts";
import { hasOnlyCrlf } from "../core/line_ends.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const text = (bytes: Uint8Array) => decoder.decode(bytes);

Deno.test("bare CR and bare LF become CRLF, CRLF stays", () => {
  assertEquals(text(toCrlf(encoder.encode("a\rb\nc\r\nd\r"))), "a\r\nb\r\nc\r\nd\r\n");
  assertEquals(text(toCrlf(encoder.encode("\r\r\n\n\r"))), "\r\n\r\n\r\n\r\n");
  const clean = encoder.encode("x\r\ny\r\n");
  assert(toCrlf(clean) === clean, "a clean body is not copied");
  assert(hasOnlyCrlf(clean));
  assert(!hasOnlyCrlf(encoder.encode("x\ry\r\n")));
  assert(!hasOnlyCrlf(encoder.encode("x\r")));
});

Deno.test("the wire never carries a bare CR; a dot after a bare CR is stuffed", () => {
  assertEquals(
    text(prepareBody(encoder.encode("Subject: a\rBcc: b\r\n\r\nline\r.dot\r"))),
    "Subject: a\r\nBcc: b\r\n\r\nline\r\n..dot\r\n",
  );
  for (const sample of ["a\rb\r\n", "a\r\n\r", "\r", ".\r.", "a\r\r\nb\n\rc"]) {
    const body = encoder.encode(sample);
    const joined = dataParts(body).map(text).join("");
    assertEquals(joined, text(dataSection(body)), JSON.stringify(sample));
    const wire = encoder.encode(joined);
    assert(hasOnlyCrlf(wire), `only CRLF on the wire for ${JSON.stringify(sample)}`);
  }
});
