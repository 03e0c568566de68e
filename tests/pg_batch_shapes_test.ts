/**
 * The accept and settle batch statements on PostgreSQL have one text whatever the batch size
 * (core/store/bulk_insert.ts, pg_unnest_update.ts, recipient_writes.ts), and pg_prepared.ts may
 * name them. No database: the statements are only built and compared (the pg store contract
 * tests run them).
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { PG_TYPES } from "../core/store/_sql.ts";
import { combinedWrites, insertRowsQuery } from "../core/store/bulk_insert.ts";
import { preparable } from "../core/store/pg_prepared.ts";
import { unnestUpdateQuery } from "../core/store/pg_unnest_update.ts";
import { type RecipientWrite, recipientWriteQueries } from "../core/store/recipient_writes.ts";

function recipients(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    unit_id: `u${i}`,
    message_id: `m${i}`,
    address: `r${i}@example.test`,
    state: "queued",
    attempts: 0,
    last_code: null,
    last_reply: null,
    updated_at: 1_000 + i,
  }));
}

function messages(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    id: `m${i}`,
    sender: "s@example.test",
    created_at: 1_000,
    size: 3,
    recipient_count: 1,
    channel: "smtp",
    client_ip: null,
    meta: null,
    pool: null,
    tag: null,
    api_key: null,
    body: new Uint8Array([i, 1, 2]),
    unconfirmed_since: 1_000,
  }));
}

Deno.test("unnest inserts: one text for any number of rows, and it may be named", () => {
  const one = insertRowsQuery("postgres", "recipients", recipients(1), PG_TYPES.recipients);
  const many = insertRowsQuery("postgres", "recipients", recipients(37), PG_TYPES.recipients);
  assertEquals(one.sql, many.sql);
  assertEquals(many.parameters.length, 8);
  assertEquals((many.parameters[2] as string[])[36], "r36@example.test");
  assert(preparable(many.sql));
});

Deno.test("messages insert: bodies bound one by one, padded to a power of two", () => {
  const three = insertRowsQuery("postgres", "messages", messages(3), PG_TYPES.messages);
  const four = insertRowsQuery("postgres", "messages", messages(4), PG_TYPES.messages);
  const five = insertRowsQuery("postgres", "messages", messages(5), PG_TYPES.messages);
  const eight = insertRowsQuery("postgres", "messages", messages(8), PG_TYPES.messages);
  assertEquals(three.sql, four.sql);
  assertEquals(five.sql, eight.sql);
  assert(three.sql !== five.sql);
  assert(preparable(three.sql));
  // 12 column arrays, then 4 bodies: three real ones and one NULL of padding.
  assertEquals(three.parameters.length, 12 + 4);
  const bodies = three.parameters.slice(11, 15);
  assertEquals(bodies.map((b) => b === null ? null : [...(b as Uint8Array)]), [
    [0, 1, 2],
    [1, 1, 2],
    [2, 1, 2],
    null,
  ]);
  assert(/where v\."id" is not null$/.test(three.sql));
  // One row needs no padding but keeps the same form.
  const one = insertRowsQuery("postgres", "messages", messages(1), PG_TYPES.messages);
  assertEquals(one.parameters.length, 13);
});

function write(i: number, verdict: "delivered" | "failed"): RecipientWrite {
  return {
    id: String(100 + i),
    unitId: `u${i % 3}`,
    state: verdict,
    code: verdict === "delivered" ? 250 : 550,
    reply: verdict === "delivered" ? "250 ok" : "550 no",
    category: verdict === "failed" ? "bad-mailbox" : null,
    dsnDue: verdict === "failed",
    at: 5_000 + (i % 3),
  };
}

Deno.test("settle's recipient writes on PostgreSQL: every verdict in one statement of one text", () => {
  const few = recipientWriteQueries("postgres", [write(0, "delivered")]);
  const mixed = recipientWriteQueries(
    "postgres",
    Array.from({ length: 40 }, (_, i) => write(i, i % 4 === 0 ? "failed" : "delivered")),
  );
  assertEquals(few.length, 1);
  assertEquals(mixed.length, 1);
  assertEquals(few[0].sql, mixed[0].sql);
  assert(preparable(mixed[0].sql));
  const [ids, states, , , , , dsn] = mixed[0].parameters as unknown[][];
  assertEquals(ids.length, 40);
  assertEquals(states[4], "failed");
  assertEquals(dsn[4], true);
  assertEquals(dsn[5], false);
  // The other dialects keep their statements (one per verdict here).
  assertEquals(
    recipientWriteQueries("sqlite3", [write(0, "delivered"), write(4, "failed")]).length,
    2,
  );
});

Deno.test("unnestUpdateQuery: values, kept NULLs, expressions, constants and increments", () => {
  const shape = {
    table: "queue",
    key: "id",
    keyType: "varchar",
    columns: {
      state: { type: "varchar" },
      due_at: { type: "bigint", apply: "keep-null" as const },
    },
    constants: ["lease_token"],
    increments: ["attempts"],
  };
  const a = unnestUpdateQuery(shape, [{ key: "u1", values: { state: "done" } }]);
  const b = unnestUpdateQuery(shape, [
    { key: "u1", values: { state: "done" } },
    { key: "u2", values: { state: "queued", due_at: 9 } },
  ]);
  assertEquals(a.sql, b.sql);
  assertEquals(
    b.sql,
    `update "queue" as t set "state" = v."v0", "due_at" = coalesce(v."v1", t."due_at"), ` +
      `"lease_token" = $4, "attempts" = t."attempts" + 1 from unnest($1::varchar[], ` +
      `$2::varchar[], $3::bigint[]) as v("key", "v0", "v1") where t."id" = v."key" ` +
      `and t."id" = any($1::varchar[])`,
  );
  assertEquals(b.parameters, [["u1", "u2"], ["done", "queued"], [null, 9], null]);
});

Deno.test("combinedWrites: one statement, parameters renumbered, and it may be named", () => {
  const queries = [
    insertRowsQuery("postgres", "messages", messages(2), PG_TYPES.messages),
    insertRowsQuery("postgres", "recipients", recipients(2), PG_TYPES.recipients),
  ];
  const combined = combinedWrites(queries);
  assertEquals(combined.parameters.length, 14 + 8);
  assertEquals(combined.parameters[14], queries[1].parameters[0]);
  assert(combined.sql.startsWith(`with "w1" as (insert into "messages"`));
  assert(
    combined.sql.includes(
      `select "unit_id", "message_id", "address", "state", "attempts", "last_code", "last_reply", "updated_at" from unnest($15::varchar[]`,
    ),
  );
  assert(combined.sql.endsWith(`select 1 as "done"`));
  assert(preparable(combined.sql));
});
