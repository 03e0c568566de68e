/** Shared column helpers so each migration reads the same on every SQL dialect. */
import type { ColumnDataType, Expression, Kysely } from "kysely";
import { sql } from "kysely";

/** The SQL dialects fastmta speaks. */
export type Dialect = "sqlite3" | "postgres" | "mysql" | "mssql";

/** A column type that works on every dialect for the given purpose. */
export function columnType(
  dialect: Dialect,
  kind: "id" | "blob" | "text" | "bigint",
): ColumnDataType | Expression<unknown> {
  switch (kind) {
    case "id":
      return dialect === "postgres" ? "bigserial" : dialect === "sqlite3" ? "integer" : "bigint";
    case "blob":
      return dialect === "postgres"
        ? "bytea"
        : dialect === "mysql"
        ? sql`longblob`
        : dialect === "mssql"
        ? sql`varbinary(max)`
        : "blob";
    case "text":
      return dialect === "mssql"
        ? sql`nvarchar(max)`
        : dialect === "mysql"
        ? sql`mediumtext`
        : "text";
    case "bigint":
      return "bigint";
  }
}

/** One numbered migration; `dialect` lets a step differ where SQL does. */
export interface FastmtaMigration {
  up(db: Kysely<unknown>, dialect: Dialect): Promise<void>;
}
