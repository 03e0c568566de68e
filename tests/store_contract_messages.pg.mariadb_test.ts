/**
 * The Store contract for messages, bodies, API keys and health, run unchanged against every
 * database the store supports here: SQLite, PostgreSQL and MariaDB. Each case gets its own freshly
 * created database (helpers/databases.ts) and drops it at the end.
 */
import { sql } from "kysely";
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { type TestDatabase, testDatabaseKinds } from "./helpers/databases.ts";
import type { SqlStore } from "../core/store/mod.ts";
import { WHOLE_BODY_BYTES } from "../core/store/bodies.ts";
import { lease, message, outcome, T0, withStore } from "./helpers/store_contract.ts";

const CASES: Record<string, (store: SqlStore, db: TestDatabase) => Promise<void>> = {
  "migrate applies every migration once and reports status": async (store, db) => {
    assertEquals(await store.migrate(), []);
    const status = await store.migrationStatus();
    assert(status.length >= 1);
    assertEquals(status[0].name, "0001_queue");
    assert(status.every((m) => typeof m.appliedAt === "number"), JSON.stringify(status));
    // A second store (another thread or node) sees the same schema and applies nothing.
    const other = await db.open("admin");
    try {
      assertEquals(await other.migrate(), []);
    } finally {
      await other.close();
    }
  },

  "bodies round-trip byte for byte (0x00, 0xff, every byte value, 1 MB)": async (store) => {
    const every = new Uint8Array(512).map((_, i) => i % 256);
    const big = new Uint8Array(1024 * 1024);
    for (let i = 0; i < big.length; i += 65_536) {
      crypto.getRandomValues(big.subarray(i, i + 65_536));
    }
    // A view into a larger buffer: only its bytes must be stored.
    const backing = new Uint8Array([0xff, 0xff, 0x00, 0x01, 0x00, 0xfe, 0xff]);
    const view = backing.subarray(2, 6);
    const messages = [
      message(["a@x.test"], { body: every }),
      message(["a@x.test"], { body: big }),
      message(["a@x.test"], { body: new Uint8Array([0x00]) }),
      message(["a@x.test"], { body: new Uint8Array([0xff, 0x00, 0xff]) }),
      message(["a@x.test"], { body: view }),
    ];
    await store.insertMessages(messages);
    for (const m of messages) {
      const body = await store.readBody(m.id);
      assert(body instanceof Uint8Array);
      assertEquals(body.byteLength, m.body.byteLength);
      assert(body.every((b, i) => b === m.body[i]), `body of ${m.id} differs`);
      // The head: the first bytes exactly (binary-safe, never more), and the full size.
      const first = await store.readBodyHead(m.id, 100);
      assert(first);
      assertEquals(first.size, m.body.byteLength);
      assertEquals(first.head.byteLength, Math.min(100, m.body.byteLength));
      assert(first.head.every((b, i) => b === m.body[i]), `head of ${m.id} differs`);
    }
    assertEquals(await store.readBody("nope"), null);
    assertEquals(await store.readBodyHead("nope", 100), null);
    // Many heads in one statement: the same bytes, gone messages absent, duplicates once; on a
    // server database a body up to WHOLE_BODY_BYTES comes whole.
    const ids = [...messages.map((m) => m.id), "nope", messages[0].id];
    const heads = await store.readBodyHeads(ids, 100);
    assertEquals([...heads.keys()].sort(), messages.map((m) => m.id).sort());
    for (const m of messages) {
      const head = heads.get(m.id);
      assert(head);
      assertEquals(head.size, m.body.byteLength);
      assertEquals(head.head.byteLength, batchedHeadLength(store, m.body.byteLength, 100));
      assert(head.head.every((b, i) => b === m.body[i]), `batched head of ${m.id} differs`);
    }
    assertEquals((await store.readBodyHeads([], 100)).size, 0);
  },

  "batched heads: whole bodies up to WHOLE_BODY_BYTES on a server database, heads above": async (
    store,
  ) => {
    // Compressible text (LZ4 on PostgreSQL) just under, at and just over the limit.
    const line = new TextEncoder().encode("la de da, la de da\r\n");
    const text = (size: number) => {
      const body = new Uint8Array(size);
      for (let i = 0; i < size; i += line.byteLength) body.set(line.subarray(0, size - i), i);
      return body;
    };
    const sizes = [16_384, 16_385, WHOLE_BODY_BYTES - 1, WHOLE_BODY_BYTES, WHOLE_BODY_BYTES + 1];
    const messages = sizes.map((size) => message(["a@x.test"], { body: text(size) }));
    await store.insertMessages(messages);
    const heads = await store.readBodyHeads(messages.map((m) => m.id), 16_384);
    for (const m of messages) {
      const read = heads.get(m.id);
      assert(read);
      assertEquals(read.size, m.body.byteLength);
      const length = batchedHeadLength(store, m.body.byteLength, 16_384);
      assertEquals(read.head.byteLength, length, `head of a ${m.body.byteLength}-byte body`);
      assertEquals(read.head, m.body.subarray(0, length));
    }
    if (store.dialect !== "postgres") return;
    // Those reads decoded LZ4 (migration 0023) where the server has it: whole and sliced.
    const { rows } = await sql<{ method: string | null; lz4: boolean }>`
      select pg_column_compression(body) as method,
        (select 'lz4' = any(enumvals) from pg_settings where name = 'default_toast_compression') as lz4
      from messages where id = ${messages.at(-1)!.id}`.execute(store.db);
    if (rows[0].lz4) assertEquals(rows[0].method, "lz4");
  },

  "a 12 MB body round-trips (24 MB as hex: beyond MariaDB's default packet)": async (store) => {
    const big = new Uint8Array(12 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 65_536) {
      crypto.getRandomValues(big.subarray(i, i + 65_536));
    }
    const small = message(["a@x.test"]);
    const m = message(["a@x.test"], { body: big });
    await store.insertMessages([small, m]);
    const body = await store.readBody(m.id);
    assertEquals(body?.byteLength, big.byteLength);
    assert(body!.every((b, i) => b === big[i]), "the large body differs");
    assertEquals((await store.readBody(small.id))?.byteLength, small.body.byteLength);
  },

  "insert groups recipients into one unit per domain": async (store) => {
    const m = message(["a@x.test", "b@x.test", "c@y.test", "a@x.test"]);
    await store.insertMessages([m]);
    const units = await lease(store, T0);
    assertEquals(units.length, 2);
    const byDomain = Object.fromEntries(units.map((u) => [u.domain, u.recipients.sort()]));
    assertEquals(byDomain, { "x.test": ["a@x.test", "b@x.test"], "y.test": ["c@y.test"] });
    assert(units.every((u) => u.messageId === m.id && u.sender === m.sender));
    assertEquals(units.map((u) => u.attempts), [1, 1]);
    assertEquals(units.map((u) => u.createdAt), [T0, T0]);
  },

  "text round-trips, including non-ASCII": async (store) => {
    const m = message(["jörg@bücher.test"], { sender: "zoë@exämple.test" });
    await store.insertMessages([m]);
    const [unit] = await lease(store, T0);
    assertEquals(unit.recipients, ["jörg@bücher.test"]);
    assertEquals(unit.sender, "zoë@exämple.test");
    await store.settle([outcome(unit, [{
      address: "jörg@bücher.test",
      outcome: "failed",
      code: 550,
      reply: "550 5.1.1 Empfänger unbekannt ✉",
    }])]);
    const status = await store.messageStatus(m.id);
    assertEquals(status?.recipients[0].last_reply, "550 5.1.1 Empfänger unbekannt ✉");
  },

  "API keys: add, find by hash, record use, list, remove": async (store) => {
    const hash = "ab".repeat(32);
    await store.addApiKey({ name: "ci", keyHash: hash, createdAt: T0, lastUsedAt: null });
    await store.addApiKey({
      name: "a-shop",
      keyHash: "cd".repeat(32),
      createdAt: T0 + 1,
      lastUsedAt: null,
      role: "viewer",
    });
    const duplicate = await store.addApiKey({
      name: "ci",
      keyHash: "ef".repeat(32),
      createdAt: T0,
      lastUsedAt: null,
    }).then(() => null, (error: Error) => error);
    assertMatch(String(duplicate?.message), /API key "ci" already exists/);
    assertEquals(await store.apiKeyByHash(hash), {
      name: "ci",
      keyHash: hash,
      createdAt: T0,
      lastUsedAt: null,
      role: "admin", // no role given: admin, as every key made before roles
    });
    assertEquals((await store.apiKeyByHash("cd".repeat(32)))?.role, "viewer");
    assertEquals(await store.apiKeyByHash("00".repeat(32)), null);
    await store.touchApiKey("ci", T0 + 60_000);
    assertEquals((await store.apiKeyByHash(hash))?.lastUsedAt, T0 + 60_000);
    assertEquals((await store.listApiKeys()).map((k) => k.name), ["a-shop", "ci"]);
    assertEquals(await store.removeApiKey("ci"), true);
    assertEquals(await store.removeApiKey("ci"), false);
    assertEquals(await store.apiKeyByHash(hash), null);
  },

  "health reports ok while the database answers; body size limit": async (store) => {
    const health = store.health();
    assertEquals(health.ok, true);
    assertEquals(health.error, null);
    assertMatch(String(health.since), /^\d+$/);
    const max = await store.maxBodyBytes();
    if (store.dialect === "mysql") assert(max !== null && max > 1_000_000, String(max));
    else assertEquals(max, null);
  },

  "PostgreSQL stores bodies LZ4-compressed where the server has LZ4 (migration 0023)": async (
    store,
  ) => {
    if (store.dialect !== "postgres") return;
    const { rows: [server] } = await sql<{ lz4: boolean }>`
      select 'lz4' = any(enumvals) as lz4 from pg_settings where name = 'default_toast_compression'`
      .execute(store.db);
    const { rows: [column] } = await sql<{ method: string }>`
      select attcompression as method from pg_attribute
      where attrelid = 'messages'::regclass and attname = 'body'`.execute(store.db);
    assertEquals(column.method, server?.lz4 ? "l" : "");
    // A compressible body above the TOAST threshold round-trips (and is compressed with LZ4).
    const text = new TextEncoder().encode("Subject: x\r\n\r\n" + "la de da\r\n".repeat(3_000));
    const m = message(["a@x.test"], { body: text });
    await store.insertMessages([m]);
    assertEquals(await store.readBody(m.id), text);
    if (server?.lz4) {
      const { rows: [stored] } = await sql<{ method: string | null }>`
        select pg_column_compression(body) as method from messages where id = ${m.id}`
        .execute(store.db);
      assertEquals(stored.method, "lz4");
    }
  },
};

/** How many bytes `readBodyHeads(…, maxBytes)` returns of a `size`-byte body on `store`. */
function batchedHeadLength(store: SqlStore, size: number, maxBytes: number): number {
  const whole = store.dialect === "postgres" || store.dialect === "mysql";
  return whole && size <= WHOLE_BODY_BYTES ? size : Math.min(maxBytes, size);
}

for (const kind of testDatabaseKinds()) {
  for (const [name, fn] of Object.entries(CASES)) {
    Deno.test(`store contract [${kind}]: ${name}`, () => withStore(kind, fn));
  }
}
