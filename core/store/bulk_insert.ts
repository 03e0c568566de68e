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
  const parameters: unknown[] = [];
  const tuples: string[] = [];
  let n = 0;
  const placeholder = dialect === "postgres"
    ? () => `$${++n}`
    : dialect === "mssql"
    ? () => `@${++n}`
    : () => "?";
  for (const row of rows) {
    const marks: string[] = [];
    for (const column of columns) {
      parameters.push(row[column] ?? null);
      marks.push(placeholder());
    }
    tuples.push(`(${marks.join(", ")})`);
  }
  const names = columns.map((c) => quote(dialect, c)).join(", ");
  return CompiledQuery.raw(
    `insert into ${quote(dialect, table)} (${names}) values ${tuples.join(", ")}`,
    parameters,
  );
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
