/**
 * SQLite's hot reads and the lease run one statement text each whatever the batch (lists as one
 * JSON parameter, core/store/sqlite_lease.ts and `inList` in core/store/_sql.ts): after a first
 * round, batches of other sizes build nothing through Kysely and prepare nothing new, and every
 * table those statements read is searched by key, never scanned.
 */
import { DatabaseSync } from "node:sqlite";
import { CompiledQuery, DefaultQueryCompiler } from "kysely";
import { assert, assertEquals } from "./helpers/assert.ts";
import { createTestDatabase } from "./helpers/databases.ts";
import type { SqlStore } from "../core/store/mod.ts";

const NOW = Date.now();

async function insert(store: SqlStore, from: number, count: number): Promise<void> {
  await store.insertMessages(Array.from({ length: count }, (_, i) => ({
    id: `m${String(from + i).padStart(4, "0")}`,
    sender: "s@example.test",
    recipients: [`r${from + i}@example.com`, `q${from + i}@example.com`],
    channel: "smtp",
    clientIp: null,
    receivedAt: NOW,
    body: new TextEncoder().encode(`Subject: t${i}\r\n\r\nhi\r\n`),
  })));
}

/** One delivery turn's reads: lease `limit` units, their heads and their suppressions. */
async function turn(store: SqlStore, limit: number, token: string): Promise<number> {
  const units = await store.leaseDue({ owner: "t", token, now: NOW, leaseMs: 600_000, limit });
  const heads = await store.readBodyHeads(units.map((u) => u.messageId), 64);
  assertEquals(heads.size, units.length);
  const addresses = units.flatMap((u) => u.recipients);
  const found = await store.suppressions(addresses, NOW, "example.test");
  const listed = addresses.filter((a) => a === "r0@example.com");
  assertEquals(found.map((s) => s.address), listed);
  return units.length;
}

/** What `fn` prepares on SQLite and compiles through Kysely's builder. */
async function watched(fn: () => Promise<void>): Promise<{ prepared: string[]; built: string[] }> {
  const prepared: string[] = [];
  const built: string[] = [];
  const prepare = DatabaseSync.prototype.prepare;
  const compiler = DefaultQueryCompiler.prototype;
  const compile = compiler.compileQuery;
  DatabaseSync.prototype.prepare = function (this: DatabaseSync, sql: string) {
    prepared.push(sql);
    return prepare.call(this, sql);
  } as typeof prepare;
  compiler.compileQuery = function (this: DefaultQueryCompiler, ...args) {
    const query = compile.apply(this, args);
    built.push(query.sql);
    return query;
  } as typeof compile;
  try {
    await fn();
  } finally {
    DatabaseSync.prototype.prepare = prepare;
    compiler.compileQuery = compile;
  }
  return { prepared, built };
}

Deno.test("sqlite lease, heads and suppressions: one text each, searched by key", async () => {
  await using db = await createTestDatabase("sqlite3");
  const store = await db.open("accept", 4);
  try {
    await store.migrate();
    await insert(store, 0, 60);
    await store.addSuppressions([{
      address: "r0@example.com",
      category: "manual",
      code: null,
      reason: null,
      messageId: null,
      createdAt: NOW,
      expiresAt: null,
    }]);
    // The first round compiles and prepares each statement; the texts it ran are explained.
    const first = await watched(async () => {
      assertEquals(await turn(store, 7, "lease-0"), 7);
    });
    assert(first.prepared.length > 0);
    const later = await watched(async () => {
      let leased = 0;
      for (const [i, limit] of [1, 3, 12, 5, 2].entries()) {
        leased += await turn(store, limit, `lease-${i + 1}`);
      }
      assertEquals(leased, 23);
    });
    assertEquals(later, { prepared: [], built: [] });
    const plans: string[] = [];
    for (const text of first.prepared) {
      if (
        !/^(select|update)/i.test(text) ||
        !/"(queue|messages|recipients|suppression_entries)"/.test(text)
      ) continue;
      const marks = text.split("?").length - 1;
      const plan = await store.db.executeQuery(
        CompiledQuery.raw(`explain query plan ${text}`, new Array(marks).fill(null)),
      );
      const details = plan.rows.map((r) => String((r as { detail: unknown }).detail));
      const scans = details.filter((d) =>
        /^SCAN (queue|messages|recipients|suppression_entries)\b/.test(d)
      );
      assertEquals(scans, [], `${text}\n${details.join("\n")}`);
      plans.push(details.join("; "));
    }
    if (Deno.env.get("SHOW_PLANS")) console.log(plans.join("\n"));
    // The due units, the lease UPDATE, units, recipients, heads and suppressions.
    assertEquals(plans.length, 6);
  } finally {
    await store.close();
  }
});
