/**
 * Hot statements compiled once (core/store/compiled_once.ts) and named on PostgreSQL
 * (core/store/pg_prepared.ts): later calls carry their own arguments in the right places, the
 * text stays the same whatever the list length (SQLite: the list as JSON text), and other
 * dialects build every time.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import {
  DummyDriver,
  Kysely,
  MysqlAdapter,
  MysqlIntrospector,
  MysqlQueryCompiler,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from "kysely";
import { inList } from "../core/store/_sql.ts";
import { CompiledOnce } from "../core/store/compiled_once.ts";
import { preparable } from "../core/store/pg_prepared.ts";
import type { Tables } from "../core/store/tables.ts";

function offline(kind: "postgres" | "sqlite3" | "mysql"): Kysely<Tables> {
  const parts = {
    postgres: [PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler],
    sqlite3: [SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler],
    mysql: [MysqlAdapter, MysqlIntrospector, MysqlQueryCompiler],
  } as const;
  const [Adapter, Introspector, Compiler] = parts[kind];
  return new Kysely<Tables>({
    dialect: {
      createAdapter: () => new Adapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new Introspector(db),
      createQueryCompiler: () => new Compiler(),
    },
  });
}

const QUERY = new CompiledOnce((db, dialect, ids: string[], after: number) =>
  db.selectFrom("queue").select(["id", "state"])
    .where(inList(dialect, "id", ids))
    .where("state", "=", "queued")
    .where("due_at", ">", after)
);

Deno.test("compiled once: PostgreSQL reuses the text with each call's arguments", () => {
  const db = offline("postgres");
  const first = QUERY.compile(db, "postgres", ["a", "b"], 5);
  const second = QUERY.compile(db, "postgres", ["c", "d", "e"], 7);
  assertEquals(first.sql, second.sql);
  assert(first.sql.includes(`"id" = any($1)`), first.sql);
  assertEquals(first.parameters, [["a", "b"], "queued", 5]);
  assertEquals(second.parameters, [["c", "d", "e"], "queued", 7]);
  // What a fresh build of the same arguments gives.
  const fresh = db.selectFrom("queue").select(["id", "state"])
    .where(inList("postgres", "id", ["c", "d", "e"])).where("state", "=", "queued")
    .where("due_at", ">", 7).compile();
  assertEquals(second.sql, fresh.sql);
  assertEquals(second.parameters, fresh.parameters);
});

Deno.test("compiled once: SQLite reuses the text, a list bound as its JSON text", () => {
  const db = offline("sqlite3");
  const two = QUERY.compile(db, "sqlite3", ["a", "b"], 1);
  const three = QUERY.compile(db, "sqlite3", ["a", "b", "c"], 2);
  assertEquals(two.sql, three.sql);
  assert(two.sql.includes(`"id" in (select "value" from json_each(?))`), two.sql);
  assertEquals(three.parameters, [`["a","b","c"]`, "queued", 2]);
  const fresh = db.selectFrom("queue").select(["id", "state"])
    .where(inList("sqlite3", "id", ["a", "b", "c"])).where("state", "=", "queued")
    .where("due_at", ">", 2).compile();
  assertEquals(three.sql, fresh.sql);
  assertEquals(three.parameters, fresh.parameters);
});

Deno.test("compiled once: other dialects build each call (lists expand)", () => {
  const db = offline("mysql");
  const two = QUERY.compile(db, "mysql", ["a", "b"], 1);
  const three = QUERY.compile(db, "mysql", ["a", "b", "c"], 1);
  assert(two.sql !== three.sql);
  assertEquals(three.parameters, ["a", "b", "c", "queued", 1]);
});

Deno.test("compiled once: a builder that does not bind each argument once is not cached", () => {
  const twice = new CompiledOnce((db, dialect, ids: string[]) =>
    db.selectFrom("queue").select("id").where(inList(dialect, "id", ids))
      .where(inList(dialect, "message_id", ids))
  );
  const db = offline("postgres");
  assertEquals(twice.compile(db, "postgres", ["a"]).parameters, [["a"], ["a"]]);
  assertEquals(twice.compile(db, "postgres", ["b"]).parameters, [["b"], ["b"]]);
});

Deno.test("pg prepared: only parameterised DML without a star select list is named", () => {
  assert(preparable(`select "id" from "queue" where "id" = any($1)`));
  assert(preparable(`update "messages" set "x" = $1 where "id" = any($2)`));
  assert(preparable(`select count(*) from "queue" where "state" = $1`));
  assert(!preparable(`select * from "webhooks" where "id" = $1`));
  assert(!preparable(`select "q".* from "queue" as "q" where "id" = $1`));
  assert(!preparable(`insert into "a" ("x") values ($1) returning *`));
  assert(!preparable(`create table "x" ("id" int)`));
  assert(!preparable(`select "id" from "queue" where "id" in (${"$1, ".repeat(2000)}$2)`));
});
