/**
 * PostgreSQL's batch UPDATE of many rows with different values: `update t set col = v.col …
 * from unnest($1::type[], …) as v(key, …) where t.key = v.key`, one array parameter per column.
 * Its text depends only on the columns, never on the number of rows, so settle's updates are
 * one statement per shape that pg_prepared.ts names and the server plans once per connection,
 * where the CASE form (batch_update.ts, for the other dialects) is a new text, parsed and
 * planned again, for every batch size and mix of values. Only for fixed, trusted table and
 * column names (ours); values always travel as bound parameters. The keys are also matched
 * with `= any($1)`: joined with the arrays alone, a table not yet analysed (a new node's, for
 * its first minute) is read whole by a hash join instead of through its key's index.
 * Private to core/store/.
 */
import { CompiledQuery } from "kysely";

/** A column set from the rows: its PostgreSQL type, and how the new value applies. */
export interface UnnestColumn {
  /** Element type of the column's array parameter, e.g. `bigint`, `varchar`. */
  type: string;
  /**
   * `value` (the default): set to the row's value, NULL included. `keep-null`: a row's NULL
   * keeps the column as it is (a value only some rows carry). `expr`: `sql(v)` with `v` the
   * row's value reference (e.g. a flag that chooses between two values).
   */
  apply?: "value" | "keep-null" | { expr: (v: string, current: string) => string };
}

/** The statement's shape: table, key and the columns set from each row. */
export interface UnnestUpdateShape {
  table: string;
  key: string;
  keyType: string;
  columns: Record<string, UnnestColumn>;
  /** Columns set to one value for every row (bound once, typed by the column). */
  constants?: string[];
  /** Columns incremented by one on every row. */
  increments?: string[];
}

/** One row: its key and its value for each of the shape's columns (missing: NULL). */
export interface UnnestRow {
  key: string | number;
  values: Record<string, unknown>;
}

/** Builds the UPDATE for `rows` (distinct keys) with `constants` values for the constants. */
export function unnestUpdateQuery(
  shape: UnnestUpdateShape,
  rows: readonly UnnestRow[],
  constants: Record<string, unknown> = {},
): CompiledQuery {
  if (rows.length === 0) throw new Error("Cannot build an UPDATE without rows");
  const q = (name: string) => `"${name}"`;
  const columns = Object.entries(shape.columns);
  const parameters: unknown[] = [rows.map((r) => r.key)];
  const sources = [`$1::${shape.keyType}[]`];
  const names = [q("key")];
  const sets: string[] = [];
  for (const [i, [column, spec]] of columns.entries()) {
    parameters.push(rows.map((r) => r.values[column] ?? null));
    sources.push(`$${parameters.length}::${spec.type}[]`);
    const v = `v.${q(`v${i}`)}`;
    const current = `t.${q(column)}`;
    names.push(q(`v${i}`));
    const apply = spec.apply ?? "value";
    const value = apply === "value"
      ? v
      : apply === "keep-null"
      ? `coalesce(${v}, ${current})`
      : apply.expr(v, current);
    sets.push(`${q(column)} = ${value}`);
  }
  for (const column of shape.constants ?? []) {
    parameters.push(constants[column] ?? null);
    sets.push(`${q(column)} = $${parameters.length}`);
  }
  for (const column of shape.increments ?? []) sets.push(`${q(column)} = t.${q(column)} + 1`);
  const key = `t.${q(shape.key)}`;
  return CompiledQuery.raw(
    `update ${q(shape.table)} as t set ${sets.join(", ")} ` +
      `from unnest(${sources.join(", ")}) as v(${names.join(", ")}) ` +
      `where ${key} = v.${q("key")} and ${key} = any($1::${shape.keyType}[])`,
    parameters,
  );
}
