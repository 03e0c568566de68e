/**
 * Micro-benchmark of the accept insert's Bind message on PostgreSQL: node-postgres' serializer
 * (one buffer grown by half again as it fills) against core/store/pg_bind.ts (small fields in one
 * exact-size buffer, bodies by reference), for a batch of 8 bodies with the insert's other
 * parameters (column arrays as text, NULL padding).
 *
 *   deno run -A --v8-flags=--max-semi-space-size=1,--heap-growing-percent=20,--single-threaded-gc \
 *     bench/pg_bind.ts [body bytes, default 100000] [iterations, default 2000]
 */
import { Buffer } from "node:buffer";
import { serialize } from "pg-protocol/dist/serializer.js";
import pgUtils from "pg/lib/utils.js";
import { bindPieces } from "../core/store/pg_bind.ts";

const size = Number(Deno.args[0] ?? 100_000);
const iterations = Number(Deno.args[1] ?? 2000);
const values: unknown[] = [];
for (let i = 0; i < 11; i++) values.push(["a", "b", "c", "d", "e", "f", "g", "h"]);
for (let i = 0; i < 8; i++) values.push(Buffer.from(new Uint8Array(size).fill(65 + i)));
for (let i = 0; i < 8; i++) values.push(null);
for (let i = 0; i < 28; i++) values.push([1, 2, 3, 4, 5, 6, 7, 8]);
const config = { statement: "fastmta_3", values, valueMapper: pgUtils.prepareValue };

function time(name: string, build: () => unknown) {
  for (let i = 0; i < 50; i++) build(); // warm up
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) build();
  const us = (performance.now() - t0) / iterations * 1000;
  console.log(`${name}: ${us.toFixed(1)} µs per Bind of 8 × ${size} B bodies`);
}

for (let round = 0; round < 3; round++) {
  time("serializer", () => serialize.bind(config));
  time("pieces    ", () => bindPieces(config));
}
