/**
 * A segment read with its own open and close against one through a kept read handle
 * (core/spool/segment_reads.ts), CPU per read, with `run` revoked as the server does
 * (cli/launcher_watch.ts): then Deno checks each opened path one component at a time.
 * 20 000 reads of 5 KB at spread offsets of one 64 MiB-deep folder path, 5 rounds, medians.
 *
 * `deno run -A bench/spool_open.ts [read bytes, default 5120]`
 */
import { cpuUsage } from "node:process";
import { join } from "node:path";
import { readSegment, SegmentHandles, SegmentWriter } from "../core/spool/mod.ts";

const N = 20_000;
const SIZE = Number(Deno.args[0] ?? 5120);
const root = await Deno.makeTempDir({ prefix: "fastmta-spool-open-" });
// As deep as a data folder's spool usually is (/var/lib/fastmta/data/fastmta.db-spool).
const dir = join(root, "var", "lib", "fastmta", "data", "fastmta.db-spool");
const writer = new SegmentWriter(dir);
const refs = await writer.append(Array.from({ length: 200 }, () => new Uint8Array(SIZE)));
await writer.close();
Deno.permissions.revokeSync({ name: "run" });

const handles = new SegmentHandles();
const cases: Record<string, (i: number) => unknown> = {
  "open, pread, close": (i) => readSegment(dir, refs[i % refs.length]),
  "kept handle, pread": (i) => handles.read(dir, refs[i % refs.length]),
};
const results: Record<string, number[]> = {};
for (let round = 0; round < 5; round++) {
  for (const [name, read] of Object.entries(cases)) {
    const before = cpuUsage();
    for (let i = 0; i < N; i++) read(i);
    const used = cpuUsage(before);
    (results[name] ??= []).push((used.user + used.system) / N);
  }
}
handles.forget(dir);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`| read (${SIZE} bytes) | CPU µs per read, median of 5 |`);
console.log("|---|---:|");
for (const [name, xs] of Object.entries(results)) {
  console.log(`| ${name} | ${median(xs).toFixed(1)} |`);
}
await Deno.remove(root, { recursive: true });
