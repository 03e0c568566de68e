/**
 * Multi-row INSERT statements built directly, for the hot path. Kysely's builder spends
 * 30–60 µs per row building and compiling immutable query nodes (measured: ~100 ms for 2 000
 * queue rows), more than the database takes to store them; this emits the same statement with
 * the dialect's placeholders in well under a millisecond (or, on PostgreSQL, as column arrays). Only for fixed, trusted table and
 * column names (ours); values always travel as bound parameters.
 */
import { CompiledQuery } from "kysely";
import type { Dialect } from "../../migrations/mod.ts";

function quote(dialect: Dialect, name: string): string {
  return dialect === "mysql" ? `\`${name}\`` : `"${name}"`;
}

/**
 * `insert into table (cols…) values (…), (…)` for `rows`, all with the same keys as the first.
 * Undefined values are bound as NULL.
 */
export function insertRowsQuery<T extends object>(
  dialect: Dialect,
  table: string,
  rows: readonly T[],
  pgTypes?: Record<string, string>,
): CompiledQuery {
  if (rows.length === 0) throw new Error("Cannot build an INSERT without rows");
  const columns = Object.keys(rows[0]) as (keyof T & string)[];
  if (dialect === "postgres" && pgTypes) return unnestInsert(table, columns, rows, pgTypes);
  const parameters = new Array<unknown>(rows.length * columns.length);
  let p = 0;
  for (const row of rows) {
    for (const column of columns) parameters[p++] = row[column] ?? null;
  }
  const names = columns.map((c) => quote(dialect, c)).join(", ");
  return CompiledQuery.raw(
    `insert into ${quote(dialect, table)} (${names}) values ${
      valuesList(dialect, rows.length, columns.length)
    }`,
    parameters,
  );
}

/** `(?, ?), (?, ?)`: anonymous placeholders repeat one tuple; numbered ones count up. */
function valuesList(dialect: Dialect, rows: number, columns: number): string {
  if (dialect === "sqlite3" || dialect === "mysql") {
    const tuple = `(${new Array(columns).fill("?").join(", ")})`;
    return new Array(rows).fill(tuple).join(", ");
  }
  const sign = dialect === "mssql" ? "@" : "$";
  const tuples: string[] = [];
  let n = 0;
  for (let r = 0; r < rows; r++) {
    const marks: string[] = [];
    for (let c = 0; c < columns; c++) marks.push(`${sign}${++n}`);
    tuples.push(`(${marks.join(", ")})`);
  }
  return tuples.join(", ");
}

/**
 * PostgreSQL: one array parameter per column, `insert … select * from unnest($1::type[], …)`.
 * Measured ~5x faster than a VALUES list with one parameter per value, whose per-value type
 * resolution dominates large statements. Not for bytea columns: arrays carry bytes as hex text,
 * while a single bytea parameter travels as binary.
 */
function unnestInsert<T extends object>(
  table: string,
  columns: (keyof T & string)[],
  rows: readonly T[],
  types: Record<string, string>,
): CompiledQuery {
  const arrays = columns.map((column) => {
    if (!types[column]) throw new Error(`No PostgreSQL type for column "${column}"`);
    return rows.map((row) => row[column] ?? null);
  });
  const names = columns.map((c) => `"${c}"`).join(", ");
  const unnest = columns.map((c, i) => `$${i + 1}::${types[c]}[]`).join(", ");
  return CompiledQuery.raw(
    `insert into "${table}" (${names}) select * from unnest(${unnest})`,
    arrays,
  );
}
