/**
 * Delivery's whole-body read of spooled bodies (core/spool/, issue 19), CPU per body:
 * "before" as 98a3200 read it (the row by id through SQL, then Deno's async open/seek/read of
 * the segment), "by id" (the row through SQL, then the segment), "from the head" (where the
 * batched head read said the body is: no SQL). 2 000 bodies in one SQLite store, 5 rounds.
 *
 * `deno run -A bench/spool_read.ts [body bytes, default 102400]`
 */
import { cpuUsage } from "node:process";
import { parseConfig } from "../core/config/mod.ts";
import { openStore, type SpoolRef } from "../core/store/mod.ts";
import { OPEN_SUFFIX, SEALED_SUFFIX, spoolDirFor } from "../core/spool/mod.ts";

const N = 2000;
const SIZE = Number(Deno.args[0] ?? 102_400);
const dir = await Deno.makeTempDir({ prefix: "fastmta-spool-read-" });
const store = await openStore(parseConfig({ data_dir: dir }), "deliver", { log: () => {} });
await store.migrate();
const ids: string[] = [];
for (let b = 0; b < N / 100; b++) {
  const batch = Array.from({ length: 100 }, (_, i) => {
    ids.push(`m${b}x${i}`);
    return {
      id: `m${b}x${i}`,
      sender: "s@x.test",
      recipients: ["a@y.test"],
      channel: "smtp" as const,
      clientIp: null,
      receivedAt: 0,
      body: new Uint8Array(SIZE).fill(65 + i % 26),
    };
  });
  await store.insertMessages(batch);
}
const heads = await store.readBodyHeads(ids, 16_384);
const spool = spoolDirFor(`${dir}/fastmta.db`);

async function oldRead(ref: SpoolRef): Promise<Uint8Array> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(`${spool}/${ref.segment}${OPEN_SUFFIX}`, { read: true });
  } catch {
    file = await Deno.open(`${spool}/${ref.segment}${SEALED_SUFFIX}`, { read: true });
  }
  try {
    await file.seek(ref.offset, Deno.SeekMode.Start);
    const out = new Uint8Array(ref.length);
    for (let at = 0; at < ref.length;) at += (await file.read(out.subarray(at)))!;
    return out;
  } finally {
    file.close();
  }
}

const ways: Record<string, (id: string) => Promise<unknown>> = {
  // The row by id (a 1-byte head: the same one SQL statement), then the old file read.
  "before (SQL row, async open/seek/read)": async (id) =>
    oldRead((await store.readBodyHead(id, 1))!.spooled!),
  "by id (SQL row, pread)": (id) => store.readBody(id),
  "from the head (pread, no SQL)": (id) => store.readSpooled(heads.get(id)!.spooled!),
};
const micros: Record<string, number[]> = {};
for (let round = 0; round < 5; round++) {
  for (const [name, read] of Object.entries(ways)) {
    const start = cpuUsage();
    for (const id of ids) await read(id);
    const used = cpuUsage(start);
    (micros[name] ??= []).push((used.user + used.system) / N);
  }
}
console.log(`${SIZE}-byte bodies, load ${Deno.loadavg()[0]}: CPU µs per body, median of 5`);
for (const [name, v] of Object.entries(micros)) {
  const median = [...v].sort((a, b) => a - b)[2];
  console.log(`  ${name}: ${median.toFixed(1)} (${v.map((x) => x.toFixed(0)).join(", ")})`);
}
await store.close();
await Deno.remove(dir, { recursive: true });
