/**
 * Settle on SQLite runs one statement text per kind whatever the batch (core/store/
 * sqlite_settle.ts): batches of other sizes and other mixes of verdicts prepare nothing new, and
 * they write what the general forms wrote (the store contract tests check the rest).
 */
import { DatabaseSync } from "node:sqlite";
import { assertEquals } from "./helpers/assert.ts";
import { createTestDatabase } from "./helpers/databases.ts";
import type { LeasedUnit, UnitOutcome } from "../core/contracts/mod.ts";

/** `unit`'s outcome: delivered, deferred until `at + 60 s`, or failed. */
function outcome(unit: LeasedUnit, at: number, verdict: "ok" | "later" | "no"): UnitOutcome {
  const base = {
    unitId: unit.unitId,
    messageId: unit.messageId,
    domain: unit.domain,
    leaseToken: unit.leaseToken,
    at,
    durationMs: 3,
    sourceIp: null,
    mxHost: "mx.test",
    remoteIp: "127.0.0.9",
    tls: false,
  };
  const address = unit.recipients[0];
  if (verdict === "later") {
    return {
      ...base,
      kind: "deferred",
      retryAt: at + 60_000,
      reason: "remote",
      results: [{ address, outcome: "deferred", code: 451, reply: "451 4.3.0 later" }],
    };
  }
  const failed = verdict === "no";
  return {
    ...base,
    kind: "final",
    results: [{
      address,
      outcome: failed ? "failed" : "delivered",
      code: failed ? 550 : 250,
      reply: failed ? "550 5.7.1 refused" : "250 ok",
      category: failed ? "policy" : undefined,
    }],
  };
}

Deno.test("sqlite settle: batches of any size and mix prepare no new statement", async () => {
  await using db = await createTestDatabase("sqlite3");
  const store = await db.open("accept", 4);
  try {
    await store.migrate();
    const now = Date.now();
    await store.insertMessages(Array.from({ length: 40 }, (_, i) => ({
      id: `m${String(i).padStart(3, "0")}`,
      sender: "s@example.test",
      recipients: [`r${i}@example.com`],
      channel: "smtp",
      clientIp: null,
      receivedAt: now,
      body: new TextEncoder().encode("Subject: t\r\n\r\nhi\r\n"),
    })));
    const units = await store.leaseDue({
      owner: "t",
      token: "lease-1",
      now,
      leaseMs: 600_000,
      limit: 40,
    });
    assertEquals(units.length, 40);
    const verdicts = (i: number): "ok" | "later" | "no" =>
      i % 7 === 3 ? "later" : i % 11 === 5 ? "no" : "ok";
    // A first mixed batch prepares settle's statements.
    await store.settle(units.slice(0, 12).map((u, i) => outcome(u, now + i, verdicts(i))));
    const prepare = DatabaseSync.prototype.prepare;
    const texts: string[] = [];
    DatabaseSync.prototype.prepare = function (this: DatabaseSync, sql: string) {
      texts.push(sql);
      return prepare.call(this, sql);
    } as typeof prepare;
    try {
      let i = 12;
      for (const size of [1, 2, 5, 3, 9, 8]) {
        const batch = units.slice(i, i + size);
        await store.settle(batch.map((u, k) => outcome(u, now + i + k, verdicts(i + k))));
        i += size;
      }
    } finally {
      DatabaseSync.prototype.prepare = prepare;
    }
    assertEquals(texts, []);
    // What was written: done, due again in a minute, or failed with its DSN due.
    const rows = await store.db.selectFrom("queue").innerJoin(
      "recipients",
      "recipients.unit_id",
      "queue.id",
    ).select([
      "queue.id as id",
      "queue.state as unit",
      "queue.due_at as due",
      "queue.lease_token as token",
      "queue.reply_code as code",
      "recipients.state as rcpt",
      "recipients.dsn as dsn",
      "recipients.attempts as attempts",
    ]).orderBy("queue.id").execute();
    assertEquals(rows.length, 40);
    rows.forEach((r, i) => {
      const v = verdicts(units.findIndex((u) => u.unitId === r.id));
      assertEquals(r.token, null);
      assertEquals(Number(r.attempts), 1);
      assertEquals(r.unit, v === "later" ? "queued" : "done");
      assertEquals(r.rcpt, v === "later" ? "deferred" : v === "no" ? "failed" : "delivered");
      assertEquals(r.dsn, v === "no" ? "pending" : null, `row ${i}`);
      assertEquals(Number(r.code), v === "later" ? 451 : v === "no" ? 550 : 250);
      if (v === "later") assertEquals(Number(r.due) > now + 59_000, true);
    });
  } finally {
    await store.close();
  }
});
