/**
 * The iterative shape checks behind the intake limits: JSON values (core/json_shape.ts) and
 * header sections (core/inbound/header_limits.ts), and the folded To: of composed messages.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { assertJsonShape, checkJsonShape, JsonShapeError } from "../core/json_shape.ts";
import { checkHeaderSection, HeaderScanner } from "../core/inbound/header_limits.ts";
import { composeMessage } from "../core/inbound/compose.ts";

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = i % 2 ? { a: value } : [value];
  return value;
}

Deno.test("json shape: depth counts containers; a million levels are checked without recursion", () => {
  assertEquals(checkJsonShape(1, { maxDepth: 0 }), null);
  assertEquals(checkJsonShape({}, { maxDepth: 1 }), null);
  assertEquals(checkJsonShape({ a: [1] }, { maxDepth: 2 }), null);
  assertEquals(
    checkJsonShape({ a: [1] }, { maxDepth: 1 }, "metadata"),
    "metadata: nested deeper than 1 levels",
  );
  assertEquals(checkJsonShape(nested(32), { maxDepth: 32 }), null);
  const deep = JSON.parse('{"a":'.repeat(1_000_000) + "1" + "}".repeat(1_000_000));
  assertEquals(checkJsonShape(deep, { maxDepth: 32 }, "m"), "m: nested deeper than 32 levels");
});

Deno.test("json shape: keys, strings (UTF-8 bytes), size, and values JSON cannot hold", () => {
  assertEquals(checkJsonShape({ a: [1, 2], b: 3 }, { maxDepth: 5, maxKeys: 4 }), null);
  assertMatch(
    checkJsonShape({ a: [1, 2, 3], b: 3 }, { maxDepth: 5, maxKeys: 4 }, "m") ?? "",
    /^m: more than 4 keys and elements$/,
  );
  assertEquals(checkJsonShape({ s: "ééé" }, { maxDepth: 2, maxStringBytes: 6 }), null);
  assertEquals(
    checkJsonShape({ list: [{ s: "éééé" }] }, { maxDepth: 3, maxStringBytes: 6 }, "metadata"),
    "metadata.list[0].s: string longer than 6 bytes",
  );
  assertMatch(
    checkJsonShape({ ["k".repeat(10)]: 1 }, { maxDepth: 1, maxStringBytes: 6 }) ?? "",
    /key longer than 6 bytes/,
  );
  assertEquals(checkJsonShape({ a: "xyz" }, { maxDepth: 1, maxBytes: 11 }), null);
  assertMatch(checkJsonShape({ a: "xyzw" }, { maxDepth: 1, maxBytes: 11 }) ?? "", /12 bytes/);
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  assertMatch(checkJsonShape(cycle, { maxDepth: 100 }) ?? "", /self: appears twice/);
  assertMatch(checkJsonShape({ f: () => 1 }, { maxDepth: 5 }) ?? "", /f: not a JSON value/);
  let thrown: unknown = null;
  try {
    assertJsonShape(nested(5), { maxDepth: 4 }, "meta");
  } catch (error) {
    thrown = error;
  }
  assert(
    thrown instanceof JsonShapeError && thrown.message === "meta: nested deeper than 4 levels",
  );
});

const LIMITS = { maxBytes: 10_000, maxFields: 3, maxLineLength: 10 };
const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("header limits: folded lines continue a field, CRLF is not counted, the body is not read", () => {
  assertEquals(
    checkHeaderSection(bytes("A: 1234567\r\n\tfolded\r\nB: 2\r\nC: 3\r\n\r\n"), LIMITS),
    null,
  );
  assertMatch(
    checkHeaderSection(bytes("A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n"), LIMITS) ?? "",
    /more than 3 header fields/,
  );
  assertMatch(
    checkHeaderSection(bytes("A: 12345678\r\n\r\n"), LIMITS) ?? "",
    /longer than 10 octets/,
  );
  const body = `\r\n${"x".repeat(100)}\r\nD: 4\r\nE: 5\r\n`;
  assertEquals(checkHeaderSection(bytes(`A: 1\r\n${body}`), LIMITS), null);
  // Chunk boundaries do not matter.
  const scanner = new HeaderScanner(LIMITS);
  for (const byte of bytes("A: 1\r\nB: 12345678\r\n\r\n")) scanner.push(new Uint8Array([byte]));
  assertEquals(scanner.problem, "line");
  assertMatch(
    checkHeaderSection(bytes("A: 1\r\n".repeat(3)), { ...LIMITS, maxFields: 100, maxBytes: 12 }) ??
      "",
    /larger than 12 bytes/,
  );
});

Deno.test("compose: a long recipient list is folded into lines under 78 characters", () => {
  const to = Array.from({ length: 200 }, (_, i) => `recipient-${i}@dest.test`);
  const message = composeMessage({ from: "a@o.test", to, text: "hi", messageId: "x@y" });
  const head = message.slice(0, message.indexOf("\r\n\r\n"));
  assert(head.split("\r\n").every((line) => line.length <= 78), "a line over 78 characters");
  const toField = head.match(/^To:.*(\r\n .*)*/m)![0];
  assertEquals(toField.replace(/\r\n/g, "").match(/<[^>]+>/g)?.length, 200);
  assertEquals(
    composeMessage({ from: "a@o.test", to: ["b@d.test", "c@d.test"], text: "t", messageId: "i" })
      .includes("To: <b@d.test>, <c@d.test>\r\n"),
    true,
  );
});
