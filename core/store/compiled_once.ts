/**
 * Hot statements compiled once. Kysely builds an operation tree and compiles it to SQL on every
 * call: ~160 µs for the lease check's select under the distributed bench's load (50–80 µs on a
 * quiet machine), in the worker threads, per statement. On PostgreSQL the hot reads take their
 * lists as one array (`= any($1)`, `inList` in _sql.ts), on SQLite as one JSON text read with
 * `json_each`, so their text never changes: it is compiled the first time and later calls only
 * swap the parameters. (That fixed text is also what lets pg_prepared.ts name the statement on
 * the server, and what SQLite's statement cache finds again.)
 *
 * The first call builds the query with marker values in place of the arguments and notes where
 * each marker lands among the parameters; later calls put their arguments there. Values the
 * builder writes itself (constants) stay as compiled. Only for dialects where each argument is
 * one parameter: elsewhere (lists expand to one parameter per item) it builds every time.
 */
import type { Compilable, CompiledQuery, Kysely } from "kysely";
import type { Dialect } from "../../migrations/mod.ts";
import type { Tables } from "./tables.ts";

/** Stands for argument `index` during the first compile. */
class Marker {
  constructor(readonly index: number) {}
}

/**
 * A list argument as SQLite binds it: its JSON text (read with `json_each`, see `inList`). A
 * marker of the first compile stays itself, so that CompiledOnce finds where it lands.
 */
export function jsonList(values: readonly unknown[]): unknown {
  return values instanceof Marker ? values : JSON.stringify(values);
}

/** A query builder whose arguments each become exactly one bound parameter. */
export type QueryOf<A extends unknown[], R> = (
  db: Kysely<Tables>,
  dialect: Dialect,
  ...args: A
) => Compilable<R>;

interface Compiled<R> {
  query: CompiledQuery<R>;
  slots: (number | null)[];
}

/** `build`, compiled once per dialect on PostgreSQL and SQLite, on every call elsewhere. */
export class CompiledOnce<A extends unknown[], R> {
  #build: QueryOf<A, R>;
  /** By dialect (tests open stores of several in one process); null: not cacheable. */
  #cached = new Map<Dialect, Compiled<R> | null>();

  constructor(build: QueryOf<A, R>) {
    this.#build = build;
  }

  /**
   * The compiled query for `args`, to run with `executeQuery` on any handle of the database
   * (the text depends only on the dialect; a transaction's handle runs it the same).
   */
  compile(db: Kysely<Tables>, dialect: Dialect, ...args: A): CompiledQuery<R> {
    if (dialect !== "postgres" && dialect !== "sqlite3") {
      return this.#build(db, dialect, ...args).compile();
    }
    let entry = this.#cached.get(dialect);
    if (entry === undefined) {
      const markers = args.map((_, i) => new Marker(i)) as unknown as A;
      const query = this.#build(db, dialect, ...markers).compile();
      const slots = query.parameters.map((p) => (p instanceof Marker ? p.index : null));
      // Every argument must bind exactly once, or the text depends on the values: no cache.
      const bound = slots.filter((s) => s !== null).sort((a, b) => a - b);
      const cacheable = bound.length === args.length && bound.every((s, i) => s === i);
      this.#cached.set(dialect, entry = cacheable ? { query, slots } : null);
    }
    if (entry === null) return this.#build(db, dialect, ...args).compile();
    const { query, slots } = entry;
    // SQLite binds no arrays: a list argument travels as its JSON text (inList, _sql.ts).
    const sqlite = dialect === "sqlite3";
    const parameters = slots.map((s, i) => {
      if (s === null) return query.parameters[i];
      const arg = args[s];
      return sqlite && Array.isArray(arg) ? JSON.stringify(arg) : arg;
    });
    return { ...query, parameters };
  }
}
