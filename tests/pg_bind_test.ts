/**
 * A Bind written in pieces (core/store/pg_bind.ts) is byte for byte the message node-postgres'
 * own serializer builds, for every kind of parameter a statement of ours carries.
 */
import { assertEquals } from "./helpers/assert.ts";
import { Buffer } from "node:buffer";
import { serialize } from "pg-protocol/dist/serializer.js";
import pgUtils from "pg/lib/utils.js";
import { type BindConfig, bindPieces, BY_REFERENCE_BYTES } from "../core/store/pg_bind.ts";

function joined(pieces: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(pieces));
}

function body(size: number, seed: number): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}

const MIXED: unknown[] = [
  ["id1", "id2", null],
  "plain text with ü and 💌",
  42,
  null,
  body(BY_REFERENCE_BYTES, 1),
  body(10, 2),
  undefined,
  body(100_000, 3),
  body(BY_REFERENCE_BYTES - 1, 4),
  { json: true },
  new Uint8Array([1, 2, 3]),
  body(5_000, 5),
];

for (
  const [name, config] of [
    ["unnamed statement", { values: MIXED }],
    ["named statement and portal", { statement: "fastmta_7", portal: "p1", values: MIXED }],
    ["binary results", { statement: "fastmta_1", binary: true, values: MIXED }],
    ["large parameter last", { statement: "s", values: ["a", body(70_000, 9)] }],
    ["large parameter first", { values: [body(8_192, 8), "tail"] }],
  ] as [string, BindConfig][]
) {
  Deno.test(`pg_bind: ${name} is the serializer's Bind, byte for byte`, () => {
    const withMapper = { ...config, valueMapper: pgUtils.prepareValue };
    const pieces = bindPieces(withMapper);
    if (!pieces) throw new Error("expected pieces");
    assertEquals(joined(pieces), new Uint8Array(serialize.bind(withMapper)));
  });
}

Deno.test("pg_bind: large parameters are written by reference, not copied", () => {
  const big = body(100_000, 7);
  const pieces = bindPieces({ values: ["x", big, "y"], valueMapper: pgUtils.prepareValue })!;
  assertEquals(pieces.length, 3);
  assertEquals(pieces[1] === big, true);
});

Deno.test("pg_bind: a Bind without a large binary parameter is left to the serializer", () => {
  assertEquals(bindPieces({ values: ["a", body(BY_REFERENCE_BYTES - 1, 1), null] }), null);
  assertEquals(bindPieces({}), null);
});
