/**
 * Settle writes recipients grouped by verdict (core/store/recipient_writes.ts): one batch that
 * mixes results, times and DSNs, and one with more verdicts than the grouped form takes (the
 * CASE update), must leave every recipient row with its own result. Run against SQLite,
 * PostgreSQL and MariaDB, whose SQL differs.
 */
import { assertEquals } from "./helpers/assert.ts";
import { testDatabaseKinds } from "./helpers/databases.ts";
import type { SqlStore } from "../core/store/mod.ts";
import { lease, message, outcome, T0, withStore } from "./helpers/store_contract.ts";

type Row = [string, string, number | null, string | null, number, string | null, number];

/** Every recipient row: address, state, code, reply, updated_at, dsn, attempts. */
async function recipientRows(store: SqlStore): Promise<Row[]> {
  const rows = await store.db.selectFrom("recipients")
    .select(["address", "state", "last_code", "last_reply", "updated_at", "dsn", "attempts"])
    .orderBy("address").execute();
  return rows.map((r) => [
    r.address,
    r.state,
    r.last_code === null ? null : Number(r.last_code),
    r.last_reply,
    Number(r.updated_at),
    r.dsn,
    Number(r.attempts),
  ]);
}

const CASES: Record<string, (store: SqlStore) => Promise<void>> = {
  "a batch mixing verdicts, times and DSNs gives each recipient its own result": async (store) => {
    const ok = "250 2.0.0 Ok: queued";
    await store.insertMessages([
      message(["a1@a.test", "a2@a.test", "a3@a.test"]),
      message(["b1@b.test", "b2@b.test", "b3@b.test"]),
      message(["c1@c.test", "c2@c.test"]),
    ]);
    const units = await lease(store, T0);
    const by = (domain: string) => units.find((u) => u.domain === domain)!;
    const lost = await store.settle([
      outcome(
        by("a.test"),
        by("a.test").recipients.map((address) => ({
          address,
          outcome: "delivered" as const,
          code: 250,
          reply: ok,
        })),
      ),
      {
        ...outcome(by("b.test"), [
          { address: "b1@b.test", outcome: "delivered", code: 250, reply: ok },
          { address: "b2@b.test", outcome: "failed", code: 550, reply: "550 5.1.1 unknown" },
          { address: "b3@b.test", outcome: "deferred", code: 451, reply: "451 4.7.1 later" },
        ], { kind: "deferred", retryAt: T0 + 60_000, reason: "remote" }),
        at: T0 + 20_000,
      },
      {
        ...outcome(by("c.test"), [
          { address: "c1@c.test", outcome: "suppressed", code: null, reply: "suppressed" },
          { address: "c2@c.test", outcome: "delivered", code: 250, reply: ok },
        ]),
        at: T0 + 30_000,
      },
    ]);
    assertEquals(lost, 0);
    assertEquals(await recipientRows(store), [
      ["a1@a.test", "delivered", 250, ok, T0 + 10_000, null, 1],
      ["a2@a.test", "delivered", 250, ok, T0 + 10_000, null, 1],
      ["a3@a.test", "delivered", 250, ok, T0 + 10_000, null, 1],
      ["b1@b.test", "delivered", 250, ok, T0 + 20_000, null, 1],
      ["b2@b.test", "failed", 550, "550 5.1.1 unknown", T0 + 20_000, "pending", 1],
      ["b3@b.test", "deferred", 451, "451 4.7.1 later", T0 + 20_000, null, 1],
      ["c1@c.test", "suppressed", null, "suppressed", T0 + 30_000, "pending", 1],
      ["c2@c.test", "delivered", 250, ok, T0 + 30_000, null, 1],
    ]);
    const totals = await store.counts(T0);
    assertEquals([totals.delivered, totals.failed, totals.suppressed], [5, 1, 1]);
  },

  "a batch with a different reply for every recipient settles each one": async (store) => {
    const addresses = Array.from(
      { length: 12 },
      (_, i) => `r${i.toString().padStart(2, "0")}@x.test`,
    );
    await store.insertMessages([message(addresses)]);
    const [unit] = await lease(store, T0);
    await store.settle([outcome(
      unit,
      addresses.map((address, i) => ({
        address,
        outcome: i % 2 ? "failed" as const : "delivered" as const,
        code: i % 2 ? 550 : 250,
        reply: `reply ${i}`,
      })),
    )]);
    assertEquals(
      await recipientRows(store),
      addresses.map((address, i): Row => [
        address,
        i % 2 ? "failed" : "delivered",
        i % 2 ? 550 : 250,
        `reply ${i}`,
        T0 + 10_000,
        i % 2 ? "pending" : null,
        1,
      ]),
    );
  },
};

for (const kind of testDatabaseKinds()) {
  for (const [name, fn] of Object.entries(CASES)) {
    Deno.test(`settle verdicts [${kind}]: ${name}`, () => withStore(kind, fn));
  }
}
