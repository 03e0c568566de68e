/**
 * Named prepared statements for the SQL texts a PostgreSQL connection runs again and again.
 * Kysely hands node-postgres an unnamed statement every time, so the server parses, analyses and
 * plans each one anew: in the distributed bench that was more than half of the backends' time
 * per statement (Parse and Bind against Execute in the statement log; docs/performance.md). A
 * text seen a few times on a connection gets a name instead; node-postgres then sends Parse once
 * per connection and only Bind/Execute after, and the server may keep a generic plan.
 *
 * Only parameterised DML qualifies (BEGIN/COMMIT go by the simple protocol anyway), and no text
 * with a `*` in its select list or RETURNING: a column another node's migration adds would
 * change such a statement's result type ("cached plan must not change result type"). Names are
 * bounded per connection (first come once hot); beyond that, texts stay unnamed.
 *
 * `FASTMTA_PG_PREPARE=off` in the environment turns it off (for A/B measurements: bench/pg_prepare.ts).
 *
 * Talks to: node-postgres' `Client#query` (wrapped per connection as the pool opens it).
 */
import type pg from "pg";

/** Distinct texts named per connection (each costs the server a cached statement). */
const MAX_NAMED = 200;
/** Uses of a text on a connection before it is named (one-off texts stay unnamed). */
const HOT_AFTER = 2;
/** Texts counted per connection while looking for hot ones (then the count starts over). */
const MAX_COUNTED = 2_000;
/** Longer texts are one-off batch shapes (long CASE lists, multi-row inserts): not named. */
const MAX_TEXT = 4_000;

const DML = /^\s*(select|insert|update|delete|with)\b/i;
const STAR = /(select|returning|,)\s+(\S+\.)?\*/i;

/** False when `FASTMTA_PG_PREPARE=off` (read when a pool is made; no env permission: on). */
export function preparedStatementsWanted(): boolean {
  try {
    return Deno.env.get("FASTMTA_PG_PREPARE") !== "off";
  } catch {
    return true;
  }
}

/** Whether a statement text may be prepared under a name. */
export function preparable(text: string): boolean {
  return text.length <= MAX_TEXT && DML.test(text) && !STAR.test(text);
}

/** One connection's names: text → name, and the use counts of texts not named yet. */
class StatementNames {
  #named = new Map<string, string>();
  #counts = new Map<string, number>();

  /** The name to run `text` under, or undefined to run it unnamed. */
  nameFor(text: string): string | undefined {
    const name = this.#named.get(text);
    if (name !== undefined || this.#named.size >= MAX_NAMED || !preparable(text)) return name;
    const n = (this.#counts.get(text) ?? 0) + 1;
    if (n < HOT_AFTER) {
      if (this.#counts.size >= MAX_COUNTED) this.#counts.clear();
      this.#counts.set(text, n);
      return undefined;
    }
    this.#counts.delete(text);
    const fresh = `fastmta_${this.#named.size + 1}`;
    this.#named.set(text, fresh);
    return fresh;
  }
}

type QueryFn = (...args: unknown[]) => unknown;

/**
 * Makes `client` run its hot texts as named statements: `query(text, values)` (Kysely's call)
 * becomes `query({ name, text, values })` once `text` is hot; every other call is unchanged.
 */
export function prepareHotStatements(client: pg.PoolClient): void {
  const names = new StatementNames();
  const query = client.query as unknown as QueryFn;
  (client as unknown as { query: QueryFn }).query = function (this: unknown, ...args: unknown[]) {
    const [text, values] = args;
    if (
      args.length === 2 && typeof text === "string" && Array.isArray(values) && values.length > 0
    ) {
      const name = names.nameFor(text);
      if (name !== undefined) return query.call(client, { name, text, values });
    }
    return query.apply(client, args);
  };
}
