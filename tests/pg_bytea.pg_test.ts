/**
 * BYTEA text from PostgreSQL decodes to the same bytes as node-postgres' own parser, natively
 * for the hex format and through pg's parser for the old escape format.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import pg from "pg";
import { parseBytea, pgTypes } from "../core/store/pg_bytea.ts";

const pgParse = pg.types.getTypeParser(17, "text") as (text: string) => Uint8Array;

Deno.test("BYTEA hex text decodes like pg's parser, every byte value", () => {
  const every = new Uint8Array(512).map((_, i) => i % 256);
  const text = "\\x" + [...every].map((b) => b.toString(16).padStart(2, "0")).join("");
  const ours = parseBytea(text);
  assertEquals(new Uint8Array(ours), every);
  assertEquals(new Uint8Array(ours), new Uint8Array(pgParse(text)));
  assertEquals(parseBytea("\\x").byteLength, 0);
  assertEquals(new Uint8Array(parseBytea("\\xDEADbeef")), new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
});

Deno.test("BYTEA escape format still decodes (bytea_output = escape)", () => {
  assertEquals(new Uint8Array(parseBytea("a\\000b\\\\")), new Uint8Array([0x61, 0, 0x62, 0x5c]));
});

Deno.test("the pool's type parsers: ours for BYTEA text only, pg's for the rest", () => {
  assert(pgTypes.getTypeParser(17, "text") === parseBytea);
  assert(pgTypes.getTypeParser(20, "text") === pg.types.getTypeParser(20, "text"));
  assert(pgTypes.getTypeParser(17, "binary") === pg.types.getTypeParser(17, "binary"));
});
