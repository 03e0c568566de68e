/**
 * Issue 18: a bare CR inside a REST `raw` (any inject-format message) becomes CRLF at intake, as
 * a bare LF does; a DATA section that is copied anyway gets CRLF for both; the DKIM signer
 * covers the same bytes.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { dataParts, dataSection, prepareBody } from "../core/delivery/smtp_client.ts";
import { toCrlf } from "../core/dkim/mod.ts";
import { hasOnlyCrlf } from "../core/line_ends.ts";
import { parseInject } from "../core/inbound/inject_format.ts";

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

Deno.test("a copied DATA section has no bare CR; a dot after a bare CR is stuffed", () => {
  assertEquals(
    text(prepareBody(encoder.encode("Subject: a\rBcc: b\r\n\r\nline\r.dot\r"))),
    "Subject: a\r\nBcc: b\r\n\r\nline\r\n..dot\r\n",
  );
  for (const sample of ["a\rb\n", "a\r\n\r", "\r", ".\r.", "a\r\r\nb\n\rc"]) {
    const body = encoder.encode(sample);
    const joined = dataParts(body).map(text).join("");
    assertEquals(joined, text(dataSection(body)), JSON.stringify(sample));
    assert(
      hasOnlyCrlf(encoder.encode(joined)),
      `only CRLF on the wire for ${JSON.stringify(sample)}`,
    );
  }
});

Deno.test("the inject format (REST API, queue, outbox) makes bare CR and LF CRLF at intake", () => {
  const raw = "From: a@x.test\rBcc: b@y.test\r\n\r\none\rtwo\nthree\r\n";
  for (const field of ["raw", "raw_base64"] as const) {
    const parsed = parseInject(
      encoder.encode(JSON.stringify({
        from: "a@x.test",
        to: ["b@y.test"],
        [field]: field === "raw" ? raw : btoa(raw),
      })),
      { maxSize: 100_000, maxRecipients: 10 },
    );
    assert(parsed.ok && parsed.content.kind === "raw", JSON.stringify(parsed));
    assertEquals(
      text(parsed.content.bytes),
      "From: a@x.test\r\nBcc: b@y.test\r\n\r\none\r\ntwo\r\nthree\r\n",
      field,
    );
  }
});
