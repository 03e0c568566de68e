/**
 * Hot statements compiled once. Kysely builds an operation tree and compiles it to SQL on every
 * call: ~160 µs for the lease check's select under the distributed bench's load (50–80 µs on a
 * quiet machine), in the worker threads, per statement. On PostgreSQL the hot reads take their
 * lists as one array (`= any($1)`, `inList` in _sql.ts), so their text never changes: it is
 * compiled the first time and later calls only swap the parameters. (That fixed text is also
 * what lets pg_prepared.ts name the statement on the server.)
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

/** A query builder whose arguments each become exactly one bound parameter. */
export type QueryOf<A extends unknown[], R> = (
  db: Kysely<Tables>,
  dialect: Dialect,
  ...args: A
) => Compilable<R>;

/** `build`, compiled once on PostgreSQL, on every call elsewhere. */
export class CompiledOnce<A extends unknown[], R> {
  #build: QueryOf<A, R>;
  #cached: { query: CompiledQuery<R>; slots: (number | null)[] } | null = null;
  #uncacheable = false;

  constructor(build: QueryOf<A, R>) {
    this.#build = build;
  }

  /**
   * The compiled query for `args`, to run with `executeQuery` on any handle of the database
   * (the text depends only on the dialect; a transaction's handle runs it the same).
   */
  compile(db: Kysely<Tables>, dialect: Dialect, ...args: A): CompiledQuery<R> {
    if (dialect !== "postgres" || this.#uncacheable) {
      return this.#build(db, dialect, ...args).compile();
    }
    let entry = this.#cached;
    if (!entry) {
      const markers = args.map((_, i) => new Marker(i)) as unknown as A;
      const query = this.#build(db, dialect, ...markers).compile();
      const slots = query.parameters.map((p) => (p instanceof Marker ? p.index : null));
      // Every argument must bind exactly once, or the text depends on the values: no cache.
      const bound = slots.filter((s) => s !== null).sort((a, b) => a - b);
      if (bound.length !== args.length || bound.some((s, i) => s !== i)) {
        this.#uncacheable = true;
        return this.#build(db, dialect, ...args).compile();
      }
      entry = this.#cached = { query, slots };
    }
    const { query, slots } = entry;
    const parameters = slots.map((s, i) => (s === null ? query.parameters[i] : args[s]));
    return { ...query, parameters };
  }
}
