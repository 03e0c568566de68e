/**
 * The suppression list as CSV (RFC 4180, with a header row), through npm csv-parse and
 * csv-stringify: export writes every active entry, import reads the same columns back (only
 * `address` is required; `expires_at` is ISO 8601 or empty for never). An import is all or
 * nothing: every row is checked first, and any bad one names its line and field.
 */
import { parse } from "csv-parse/sync";
import { stringify } from "csv-stringify/sync";
import {
  SUPPRESSION_CSV_COLUMNS,
  type SuppressionCreate,
  SuppressionCreateSchema,
} from "../api/manage_schemas.ts";
import type { Suppression } from "../store/mod.ts";
import { type FieldIssue, ValidationError } from "./types.ts";

/** Most rows one import takes (a bigger list: split it). */
export const MAX_IMPORT_ROWS = 100_000;

/** Entries as CSV text, header first. */
export function suppressionsToCsv(entries: readonly Suppression[]): string {
  const iso = (ms: number | null) => (ms === null ? "" : new Date(ms).toISOString());
  return stringify(
    entries.map((e) => ({
      address: e.address,
      scope: e.scope ?? "",
      source: e.source ?? "bounce",
      reason: e.reason ?? "",
      expires_at: iso(e.expiresAt),
      created_at: iso(e.createdAt),
    })),
    { header: true, columns: [...SUPPRESSION_CSV_COLUMNS] },
  );
}

/** The rows of an import, checked; ValidationError ("line 3: address: ...") if any is bad. */
export function suppressionsFromCsv(text: string): SuppressionCreate[] {
  let records: Record<string, string>[];
  try {
    records = parse(text, {
      columns: (header: string[]) => header.map((h) => h.trim().toLowerCase()),
      bom: true,
      trim: true,
      skip_empty_lines: true,
    });
  } catch (error) {
    throw new ValidationError([{
      path: "",
      message: `Not valid CSV: ${(error as Error).message}`,
    }]);
  }
  if (records.length > MAX_IMPORT_ROWS) {
    throw new ValidationError([{
      path: "",
      message: `${records.length} rows: at most ${MAX_IMPORT_ROWS} per import`,
    }]);
  }
  const issues: FieldIssue[] = [];
  const rows: SuppressionCreate[] = [];
  if (records.length > 0 && !("address" in records[0])) {
    throw new ValidationError([{ path: "", message: 'The header row has no "address" column' }]);
  }
  records.forEach((record, i) => {
    // Unknown columns (and created_at, which an import sets) are left out, not refused.
    const input: Record<string, unknown> = { address: record.address };
    if (record.scope) input.scope = record.scope;
    if (record.reason) input.reason = record.reason;
    if (record.source) input.source = record.source;
    if (record.expires_at) input.expires_at = record.expires_at;
    const parsed = SuppressionCreateSchema.safeParse(input);
    if (parsed.success) rows.push(parsed.data);
    else {
      for (const issue of parsed.error.issues) {
        issues.push({ path: `line ${i + 2}.${issue.path.join(".")}`, message: issue.message });
      }
    }
  });
  if (issues.length > 0) throw new ValidationError(issues.slice(0, 20));
  return rows;
}
