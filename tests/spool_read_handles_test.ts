/**
 * The spool's kept read handles (core/spool/segment_reads.ts): a freed segment still reads as
 * gone, whether this thread freed it or another thread or process did, and a handle on a
 * segment still being written reads what is appended later and survives the seal.
 */
import { join } from "node:path";
import { assertEquals } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { message } from "./helpers/store_contract.ts";
import { parseConfig } from "../core/config/mod.ts";
import { openStore, type SqlStore } from "../core/store/mod.ts";
import {
  KEEP_MS,
  readSegment,
  SEALED_SUFFIX,
  SegmentHandles,
  segmentHandles,
  SegmentWriter,
  spoolDirFor,
} from "../core/spool/mod.ts";

const GRACE_MS = 60_000;
const bytes = (text: string) => new TextEncoder().encode(text);

async function openSpooled(dataDir: string): Promise<SqlStore> {
  const config = parseConfig({ data_dir: dataDir, database: { body_spool: "segments" } });
  const store = await openStore(config, "accept", { log: () => {} });
  await store.migrate();
  return store;
}

Deno.test("a body delivery read just before its segment was freed reads as gone right after", async () => {
  await using dir = tempDir("fastmta-spool-handles-");
  const first = message(["a@example.test"]);
  const writing = await openSpooled(dir.path);
  await writing.insertMessages([first]);
  await writing.close(); // sealed
  const store = await openSpooled(dir.path);
  try {
    const heads = await store.readBodyHeads([first.id], 16_384); // delivery's read: handle kept
    assertEquals(heads.get(first.id)?.head, first.body);
    const spoolDir = spoolDirFor(join(dir.path, "fastmta.db"));
    assertEquals(segmentHandles.size > 0, true);
    await store.db.updateTable("queue").set({ state: "done", updated_at: 0 }).execute();
    assertEquals(await store.freeSpool({ now: Date.now() + 10 * GRACE_MS, graceMs: GRACE_MS }), 1);
    assertEquals(await store.readSpooled(heads.get(first.id)!.spooled!), null);
    assertEquals(await store.readBody(first.id), null);
    segmentHandles.forget(spoolDir);
  } finally {
    await store.close();
  }
  assertEquals(segmentHandles.size, 0); // the store's close let its handles go
});

Deno.test("a segment freed by another process reads as gone once its handle's time is up", async () => {
  await using dir = tempDir("fastmta-spool-handles-");
  let now = 0;
  const handles = new SegmentHandles({ now: () => now });
  const writer = new SegmentWriter(dir.path);
  const [ref] = await writer.append([bytes("hello")]);
  await writer.close();
  try {
    assertEquals(handles.read(dir.path, ref), bytes("hello"));
    await Deno.remove(join(dir.path, ref.segment + SEALED_SUFFIX)); // as another process frees
    // A read without a kept handle (console, DSNs) finds it gone at once...
    assertEquals(await readSegment(dir.path, ref), null);
    now += KEEP_MS / 2;
    // ...delivery's, within the handle's time, the (write-once, unchanged) bytes...
    assertEquals(handles.read(dir.path, ref), bytes("hello"));
    now += KEEP_MS;
    // ...after it, the segment is opened again and found gone, as without kept handles.
    assertEquals(handles.read(dir.path, ref), null);
    assertEquals(handles.size, 0);
  } finally {
    handles.forget(dir.path);
  }
});

Deno.test("a kept handle on an open segment reads later appends and outlives the seal", async () => {
  await using dir = tempDir("fastmta-spool-handles-");
  const handles = new SegmentHandles({ now: () => 0 });
  const writer = new SegmentWriter(dir.path);
  try {
    const [a] = await writer.append([bytes("first body")]);
    assertEquals(handles.read(dir.path, a), bytes("first body"));
    const [b] = await writer.append([[bytes("second "), bytes("body")]]);
    assertEquals(handles.read(dir.path, b), bytes("second body"));
    assertEquals(handles.size, 1);
    await writer.close(); // renamed to .seg: the kept handle is on the same file
    assertEquals(handles.read(dir.path, { ...a, length: 5 }), bytes("first"));
    // A read past the end still fails, and lets its handle go.
    let failed = false;
    try {
      handles.read(dir.path, { ...b, length: b.length + 1 });
    } catch {
      failed = true;
    }
    assertEquals(failed, true);
    assertEquals(handles.size, 0);
  } finally {
    handles.forget(dir.path);
    await writer.close();
  }
});
