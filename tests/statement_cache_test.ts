import { assert, assertEquals } from "./helpers/assert.ts";
import { StatementCache } from "../core/store/statement_cache.ts";

Deno.test("statement cache: a hit returns the prepared statement without preparing again", () => {
  const cache = new StatementCache<{ sql: string }>(100);
  let prepared = 0;
  const prepare = (sql: string) => (prepared++, { sql });
  const first = cache.get("select 1", prepare);
  assert(cache.get("select 1", prepare) === first);
  assertEquals(prepared, 1);
});

Deno.test("statement cache: past its SQL budget the least recently used statement goes first", () => {
  const cache = new StatementCache<string>(30);
  const prepare = (sql: string) => sql;
  cache.get("a".repeat(10), prepare);
  cache.get("b".repeat(10), prepare);
  cache.get("a".repeat(10), prepare); // a is now the most recently used
  cache.get("c".repeat(15), prepare); // 35 characters: b goes
  assertEquals(cache.size, 2);
  assertEquals(cache.sqlChars, 25);
  let prepared = 0;
  cache.get("a".repeat(10), (sql) => (prepared++, sql));
  assertEquals(prepared, 0);
  cache.get("b".repeat(10), (sql) => (prepared++, sql));
  assertEquals(prepared, 1);
});

Deno.test("statement cache: a statement longer than the budget is still cached alone", () => {
  const cache = new StatementCache<string>(5);
  cache.get("x", (sql) => sql);
  cache.get("y".repeat(20), (sql) => sql);
  assertEquals(cache.size, 1);
  assertEquals(cache.sqlChars, 20);
});
