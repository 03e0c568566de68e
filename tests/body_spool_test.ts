/**
 * The body spool (core/spool/, `database.body_spool: "segments"`): bodies round-trip through
 * segment files with only their place in the `messages` row; a torn tail (bytes of a batch
 * whose transaction never committed, then kill -9) is cut off at start and the segment sealed;
 * a sealed segment is freed only once every unit of its messages is settled past the grace.
 */
import { join } from "node:path";
import { assert, assertEquals } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { message } from "./helpers/store_contract.ts";
import { parseConfig } from "../core/config/mod.ts";
import { openStore, type SqlStore } from "../core/store/mod.ts";
import { OPEN_SUFFIX, SEALED_SUFFIX, SegmentWriter, spoolDirFor } from "../core/spool/mod.ts";

const GRACE_MS = 60_000;

async function spoolFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}

async function openSpooled(dataDir: string, spool = "segments"): Promise<SqlStore> {
  const config = parseConfig({ data_dir: dataDir, database: { body_spool: spool } });
  const store = await openStore(config, "accept", { log: () => {} });
  await store.migrate();
  return store;
}

function spoolDir(dataDir: string): string {
  return spoolDirFor(join(dataDir, "fastmta.db"));
}

Deno.test("spooled bodies are read back from their segment, and the row holds no bytes", async () => {
  await using dir = tempDir("fastmta-spool-");
  const store = await openSpooled(dir.path);
  try {
    const big = message(["a@example.test"], { body: new Uint8Array(300_000).fill(65) });
    const small = message(["b@example.test", "c@example.org"]);
    await store.insertMessages([big, small]);
    await store.insertMessages([message(["d@example.test"])]);
    assertEquals(await store.readBody(big.id), big.body);
    assertEquals(await store.readBody(small.id), small.body);
    const head = await store.readBodyHead(big.id, 10);
    assertEquals(head?.head, big.body.subarray(0, 10));
    assertEquals(head?.size, 300_000);
    // The head says where the whole body is: delivery reads it from there, without a query.
    assertEquals(await store.readSpooled(head!.spooled!), big.body);
    const row = await store.db.selectFrom("messages").select(["body", "body_segment"])
      .where("id", "=", small.id).executeTakeFirstOrThrow();
    assertEquals(row.body.byteLength, 0);
    const files = await spoolFiles(spoolDir(dir.path));
    assertEquals(files, [`${row.body_segment}${OPEN_SUFFIX}`]); // one writer, one segment
  } finally {
    await store.close();
  }
  // Closing seals the segment; the bodies stay readable, also with the setting back on database.
  assert((await spoolFiles(spoolDir(dir.path)))[0].endsWith(SEALED_SUFFIX));
  const reader = await openSpooled(dir.path, "database");
  try {
    const ids = await reader.db.selectFrom("messages").select("id").execute();
    for (const { id } of ids) assert((await reader.readBody(id))!.byteLength > 0);
    const plain = message(["e@example.test"]);
    await reader.insertMessages([plain]);
    assertEquals(await reader.readBody(plain.id), plain.body);
    assertEquals(
      (await reader.db.selectFrom("messages").select("body_segment")
        .where("id", "=", plain.id).executeTakeFirstOrThrow()).body_segment,
      null,
    );
  } finally {
    await reader.close();
  }
});

/**
 * In a child process that then exits without closing anything (as kill -9 leaves it, its locks
 * dropped by the OS): one committed message, then a batch written whose transaction never
 * committed, and another writer (thread) that died before its first commit. Returns the message.
 */
async function crashedWriter(dataDir: string): Promise<{ id: string; segment: string }> {
  const code = `
    import { parseConfig } from ${JSON.stringify(import.meta.resolve("../core/config/mod.ts"))};
    import { openStore } from ${JSON.stringify(import.meta.resolve("../core/store/mod.ts"))};
    import { SegmentWriter } from ${JSON.stringify(import.meta.resolve("../core/spool/mod.ts"))};
    const dir = ${JSON.stringify(dataDir)};
    const store = await openStore(parseConfig({ data_dir: dir }), "accept", { log: () => {} });
    await store.migrate();
    const id = "kept-1";
    await store.insertMessages([{ id, sender: "s@example.test", recipients: ["a@example.test"],
      channel: "smtp", clientIp: null, receivedAt: 0, body: new Uint8Array(1234).fill(65) }]);
    const { body_segment: segment } = await store.db.selectFrom("messages")
      .select("body_segment").where("id", "=", id).executeTakeFirstOrThrow();
    const open = dir + "/fastmta.db-spool/" + segment + ".open";
    await Deno.writeFile(open, new Uint8Array(5_000).fill(66), { append: true });
    await new SegmentWriter(dir + "/fastmta.db-spool").append([new Uint8Array(777)]);
    console.log(JSON.stringify({ id, segment }));
    Deno.exit(0);
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", code],
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test("a torn segment tail without index rows is cut off at start, and the segment sealed", async () => {
  await using dir = tempDir("fastmta-spool-");
  const { id, segment } = await crashedWriter(dir.path);
  // A writer of a live process (`fastmta send` while the server starts) holds its segment.
  const live = new SegmentWriter(spoolDir(dir.path));
  const [ref] = await live.append([new Uint8Array(99)]);
  const restarted = await openSpooled(dir.path);
  try {
    const result = await restarted.recoverSpool();
    assertEquals(result, { sealed: 2, truncatedBytes: 5_777, live: 1 });
    const files = await spoolFiles(spoolDir(dir.path));
    assertEquals(files.length, 3);
    assertEquals(files.filter((name) => name.endsWith(SEALED_SUFFIX)).length, 2);
    assert(files.includes(`${ref.segment}${OPEN_SUFFIX}`), "the live writer's segment is kept");
    const sealed = join(spoolDir(dir.path), `${segment}${SEALED_SUFFIX}`);
    assertEquals((await Deno.stat(sealed)).size, 1234);
    assertEquals(await restarted.readBody(id), new Uint8Array(1234).fill(65));
    // Recovery leaves the live one alone until it is gone; its writer seals it.
    assertEquals(await restarted.recoverSpool(), { sealed: 0, truncatedBytes: 0, live: 1 });
    await live.close();
    assertEquals(await restarted.recoverSpool(), { sealed: 0, truncatedBytes: 0 });
    // New bodies go to a new segment, never after the cut tail.
    const next = message(["b@example.test"]);
    await restarted.insertMessages([next]);
    assertEquals(await restarted.readBody(next.id), next.body);
    assertEquals((await spoolFiles(spoolDir(dir.path))).length, 4);
  } finally {
    await restarted.close();
  }
});

Deno.test("a sealed segment is freed once all its units are settled past the grace", async () => {
  await using dir = tempDir("fastmta-spool-");
  const store = await openSpooled(dir.path);
  try {
    const first = message(["a@example.test", "b@example.org"]);
    const second = message(["c@example.test"]);
    await store.insertMessages([first, second]);
    await store.close(); // sealed
    const reopened = await openSpooled(dir.path);
    const later = Date.now() + 10 * GRACE_MS;
    // Not settled: kept.
    assertEquals(await reopened.freeSpool({ now: later, graceMs: GRACE_MS }), 0);
    // One unit of one message still queued: kept.
    await reopened.db.updateTable("queue").set({ state: "done", updated_at: Date.now() })
      .where("domain", "=", "example.test").execute();
    assertEquals(await reopened.freeSpool({ now: later, graceMs: GRACE_MS }), 0);
    // All settled, but lately: kept (DSNs and the console may still read them).
    await reopened.db.updateTable("queue").set({ state: "done", updated_at: Date.now() })
      .execute();
    assertEquals(await reopened.freeSpool({ now: Date.now(), graceMs: GRACE_MS }), 0);
    // All settled long enough ago: freed; the bodies read as gone.
    assertEquals(await reopened.freeSpool({ now: later, graceMs: GRACE_MS }), 1);
    assertEquals(await spoolFiles(spoolDir(dir.path)), []);
    assertEquals(await reopened.readBody(first.id), null);
    assertEquals(await reopened.readBodyHead(second.id, 100), null);
    // The open segment of a running writer is never freed, however old its messages.
    const fresh = message(["d@example.test"]);
    await reopened.insertMessages([fresh]);
    await reopened.db.updateTable("queue").set({ state: "done", updated_at: 0 }).execute();
    assertEquals(await reopened.freeSpool({ now: later, graceMs: GRACE_MS }), 0);
    assertEquals(await reopened.readBody(fresh.id), fresh.body);
    await reopened.close();
  } finally {
    await store.close().catch(() => {});
  }
});

Deno.test("a DSN still to build keeps its segment past the grace, until it is sent", async () => {
  await using dir = tempDir("fastmta-spool-");
  const store = await openSpooled(dir.path);
  const failed = message(["a@example.test"]);
  await store.insertMessages([failed]);
  await store.close(); // sealed
  const reopened = await openSpooled(dir.path);
  try {
    const later = Date.now() + 10 * GRACE_MS;
    await reopened.db.updateTable("queue").set({ state: "done", updated_at: 0 }).execute();
    const dsn = (state: string) =>
      reopened.db.updateTable("recipients").set({ dsn: state }).where("message_id", "=", failed.id)
        .execute();
    // Settle marked a DSN due, a worker claimed it, its building was quarantined: kept.
    for (const state of ["pending", "claim:node-a:0:x", "quarantined"]) {
      await dsn(state);
      assertEquals(await reopened.freeSpool({ now: later, graceMs: GRACE_MS }), 0, state);
      assertEquals(await reopened.readBody(failed.id), failed.body);
    }
    await dsn("sent");
    assertEquals(await reopened.freeSpool({ now: later, graceMs: GRACE_MS }), 1);
    assertEquals(await reopened.readBody(failed.id), null);
  } finally {
    await reopened.close();
  }
});
