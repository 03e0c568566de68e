/**
 * The prepared statements of one SQLite connection, least recently used first out, bounded by the
 * length of their SQL. A prepared statement's memory (SQLite's program for it, outside V8's heap)
 * grows with its text, ~50–130 bytes per character, and batched statements come in one shape per
 * batch size: multi-row INSERTs of a group commit, IN lists and CASE updates of a settle batch.
 * Bounded at 500 statements, the main thread's connection held 300 after 5 000 messages (100 of
 * them the migrations' DDL, run once at start) and an SMTP worker's some 60 multi-row INSERTs of
 * ~1 000 characters each (issue 19). An evicted statement is finalized when V8 collects it.
 */

/** SQL characters a connection's statement cache holds at most (see the module comment). */
export const STATEMENT_CACHE_SQL_CHARS = 48 * 1024;

/** Prepared statements by SQL, least recently used evicted first past `maxSqlChars`. */
export class StatementCache<T> {
  #statements = new Map<string, T>();
  #sqlChars = 0;
  readonly #maxSqlChars: number;

  constructor(maxSqlChars: number = STATEMENT_CACHE_SQL_CHARS) {
    this.#maxSqlChars = maxSqlChars;
  }

  /** The statement for `sql`, prepared by `prepare` unless cached. */
  get(sql: string, prepare: (sql: string) => T): T {
    const cached = this.#statements.get(sql);
    if (cached !== undefined) {
      // Map keeps insertion order: moving a hit to the end keeps the oldest first.
      this.#statements.delete(sql);
      this.#statements.set(sql, cached);
      return cached;
    }
    const statement = prepare(sql);
    this.#statements.set(sql, statement);
    this.#sqlChars += sql.length;
    for (const oldest of this.#statements.keys()) {
      if (this.#sqlChars <= this.#maxSqlChars || oldest === sql) break;
      this.#statements.delete(oldest);
      this.#sqlChars -= oldest.length;
    }
    return statement;
  }

  /** Statements cached. */
  get size(): number {
    return this.#statements.size;
  }

  /** SQL characters of the statements cached. */
  get sqlChars(): number {
    return this.#sqlChars;
  }
}
