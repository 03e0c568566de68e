/**
 * The accounting log (core/events/accounting.ts): rotation by size and by time, with and
 * without gzip, under many concurrent writes (the hub's batches from every worker): every
 * event is in exactly one file, each line one whole event. Also the event buffer's bound.
 */
import { gunzipSync } from "node:zlib";
import { assert, assertEquals } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { AccountingLog, EventBuffer, rotatedFiles } from "../core/events/mod.ts";
import type { FastmtaEvent } from "../core/contracts/events.ts";
import { waitUntil } from "./helpers/wait.ts";

function event(n: number): FastmtaEvent {
  return {
    v: 1,
    id: `e${n}`,
    type: "delivered",
    at: 1_700_000_000_000 + n,
    node: "node-a",
    message_id: `M${n}`,
    recipient: `r${n}@example.org`,
    reply: "250 2.0.0 ok ".repeat(5),
  };
}

async function linesOf(path: string): Promise<string[]> {
  const bytes = await Deno.readFile(path);
  const text = new TextDecoder().decode(path.endsWith(".gz") ? gunzipSync(bytes) : bytes);
  return text.split("\n").filter((l) => l !== "");
}

/** Every event id in the live file and every rotated one, with the file it is in. */
async function idsInFiles(path: string): Promise<{ ids: string[]; files: string[] }> {
  const files = [...await rotatedFiles(path), path];
  const ids: string[] = [];
  for (const file of files) {
    for (const line of await linesOf(file)) ids.push((JSON.parse(line) as FastmtaEvent).id);
  }
  return { ids, files };
}

for (const gzip of [false, true]) {
  Deno.test(`accounting log rotates by size${gzip ? " with gzip" : ""}: every event in exactly one file`, async () => {
    await using dir = tempDir("fastmta-accounting-");
    const path = `${dir.path}/acct/events.jsonl`;
    const log = new AccountingLog({ path, rotate_size: 4_000, rotate_interval: 0, gzip });
    // 40 concurrent writers of 25 events each.
    await Promise.all(
      Array.from(
        { length: 40 },
        (_, w) => log.write(Array.from({ length: 25 }, (_, i) => event(w * 25 + i))),
      ),
    );
    await log.close();
    const { ids, files } = await idsInFiles(path);
    assert(files.length > 5, `rotated into several files: ${files.length}`);
    if (gzip) assert(files.slice(0, -1).every((f) => f.endsWith(".gz")), files.join(", "));
    assertEquals(ids.length, 1_000);
    assertEquals(new Set(ids).size, 1_000);
    // A batch is never split: a file passes rotate_size by at most one batch (~5 KB here).
    if (!gzip) {
      for (const f of files) {
        const size = (await Deno.stat(f)).size;
        assert(size <= 4_000 + 5_100, `${f} is ${size} bytes`);
      }
    }
  });
}

Deno.test("accounting log rotates by time and keeps the events of every period apart", async () => {
  await using dir = tempDir("fastmta-accounting-");
  const path = `${dir.path}/events.jsonl`;
  let now = Date.UTC(2026, 0, 1);
  const log = new AccountingLog({
    path,
    rotate_size: 0,
    rotate_interval: 60_000,
    gzip: true,
    now: () => now,
  });
  for (let minute = 0; minute < 5; minute++) {
    await Promise.all([
      log.write([event(minute * 10), event(minute * 10 + 1)]),
      log.write([event(minute * 10 + 2)]),
    ]);
    now += 61_000;
  }
  await log.close();
  const { ids, files } = await idsInFiles(path);
  assertEquals(files.length, 5, files.join(", "));
  assertEquals(ids.length, 15);
  assertEquals(new Set(ids).size, 15);
  // Each rotated file holds the three events of one minute.
  for (const f of files) assertEquals((await linesOf(f)).length, 3, f);
});

Deno.test("event buffer drops and counts beyond its capacity, never blocks", async () => {
  const written: FastmtaEvent[] = [];
  let release = () => {};
  const gate = new Promise<void>((resolve) => release = resolve);
  const buffer = new EventBuffer({
    capacity: 100,
    flushMs: 1,
    maxBatch: 50,
    flush: async (batch) => {
      await gate; // a writer that is stuck
      written.push(...batch);
    },
  });
  for (let i = 0; i < 1_000; i++) buffer.push(event(i));
  // One batch is in the stuck writer, the buffer is full: the rest were dropped and counted.
  assert(buffer.dropped >= 800, `dropped ${buffer.dropped}`);
  assertEquals(buffer.taken + buffer.dropped, 1_000);
  release();
  await buffer.drain();
  await waitUntil(() => written.length === buffer.taken);
  assertEquals(new Set(written.map((e) => e.id)).size, buffer.taken);
});
