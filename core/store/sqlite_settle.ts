/**
 * Settle's statements on SQLite, one text each whatever the batch: lists and rows travel as one
 * JSON parameter read with `json_each`. The general forms (an IN list, a multi-row INSERT, CASE
 * arms per row) make a new text for every batch size and every mix of verdicts, and SQLite
 * prepares each new text afresh: with retries and failures in the mix (the realistic bench:
 * 5 % 451, 2 % 550) the main thread prepared ~1 400 statements, ~480 000 characters of SQL, per
 * 5 000 messages, and the bounded statement cache (statement_cache.ts) evicted the common shapes
 * too. Fixed texts are prepared once per connection. The writes are O(rows), where CASE arms
 * are tried one by one for every row. Private to core/store/.
 */
import { CompiledQuery } from "kysely";
import { RECIPIENT_TOTAL_SHARDS } from "../../migrations/0024_recipient_totals.ts";
import type { TotalsDelta } from "./recipient_totals.ts";
import type { RecipientWrite } from "./recipient_writes.ts";

/** `count` columns of a JSON array row: `j.value ->> 0, …`. */
function fields(count: number): string {
  return Array.from({ length: count }, (_, i) => `j.value ->> ${i}`).join(", ");
}

/** The row ids (or unit ids) `ids` as the one parameter of an `in (select value …)` list. */
export const IN_JSON = `in (select "value" from json_each(?))`;

/** The units' holders, locked by the transaction (SQLite's write lock). */
export function lockUnitsSqlite(ids: readonly string[]): CompiledQuery<{
  id: string;
  lease_token: string | null;
  state: "queued" | "done";
  attempts: number;
  copy_seq: number;
}> {
  return CompiledQuery.raw(
    `select "id", "lease_token", "state", "attempts", "copy_seq" from "queue" where "id" ${IN_JSON}`,
    [JSON.stringify(ids)],
  );
}

/** Every recipient of the units, by unit (the `recipients_unit` index). */
export function unitRecipientsSqlite(unitIds: readonly string[]): CompiledQuery<{
  id: number | string;
  unit_id: string;
  address: string;
  state: string;
}> {
  return CompiledQuery.raw(
    `select "id", "unit_id", "address", "state" from "recipients" where "unit_id" ${IN_JSON}`,
    [JSON.stringify(unitIds)],
  );
}

/** The delivery log's rows (attempt_rows.ts), in order, all with the first row's keys. */
export function insertAttemptsSqlite(rows: readonly Record<string, unknown>[]): CompiledQuery {
  const columns = Object.keys(rows[0]);
  const values = rows.map((row) => columns.map((c) => row[c] ?? null));
  return CompiledQuery.raw(
    `insert into "attempts" (${columns.map((c) => `"${c}"`).join(", ")}) ` +
      `select ${fields(columns.length)} from json_each(?) as j order by j."key"`,
    [JSON.stringify(values)],
  );
}

/** The columns of settle's unit UPDATE, in the JSON rows' order after the unit id. */
const UNIT_COLUMNS = [
  "state",
  "updated_at",
  "last_reply",
  "reply_code",
  "reply_status",
  // Kept where a row has none (null): a retry time only deferred units carry, the attempt and
  // copy numbers only the broker queue writes (as the CASE form's `else` and pg's keep-null).
  "due_at",
  "attempts",
  "copy_seq",
] as const;

const UNITS_UPDATE = `update "queue" set "state" = j.value ->> 1, "updated_at" = j.value ->> 2, ` +
  `"last_reply" = j.value ->> 3, "reply_code" = j.value ->> 4, "reply_status" = j.value ->> 5, ` +
  `"due_at" = coalesce(j.value ->> 6, "queue"."due_at"), ` +
  `"attempts" = coalesce(j.value ->> 7, "queue"."attempts"), ` +
  `"copy_seq" = coalesce(j.value ->> 8, "queue"."copy_seq"), ` +
  `"lease_owner" = null, "lease_token" = null, "held" = null ` +
  `from json_each(?) as j where "queue"."id" = j.value ->> 0`;

/** Finishes (or defers) units: one UPDATE from the JSON rows, each unit once. */
export function updateUnitsSqlite(
  units: readonly { key: string | number; values: Record<string, unknown> }[],
): CompiledQuery {
  const rows = units.map((u) => [u.key, ...UNIT_COLUMNS.map((c) => u.values[c] ?? null)]);
  return CompiledQuery.raw(UNITS_UPDATE, [JSON.stringify(rows)]);
}

const RECIPIENTS_UPDATE = `update "recipients" set "state" = j.value ->> 1, ` +
  `"last_code" = j.value ->> 2, "last_reply" = j.value ->> 3, "category" = j.value ->> 4, ` +
  `"updated_at" = j.value ->> 5, ` +
  `"dsn" = case when j.value ->> 6 then 'pending' else "recipients"."dsn" end, ` +
  `"attempts" = "recipients"."attempts" + 1 ` +
  `from json_each(?) as j where "recipients"."id" = j.value ->> 0`;

/** Every verdict of a batch's recipients in one UPDATE (each id at most once). */
export function recipientWritesSqlite(writes: readonly RecipientWrite[]): CompiledQuery {
  const rows = writes.map((w) => [
    w.id,
    w.state,
    w.code,
    w.reply,
    w.category,
    w.at,
    w.dsnDue ? 1 : 0,
  ]);
  return CompiledQuery.raw(RECIPIENTS_UPDATE, [JSON.stringify(rows)]);
}

const TOTALS_UPDATE =
  `update "recipient_totals" set "n" = "recipient_totals"."n" + j.value ->> 1 ` +
  `from json_each(?) as j where "recipient_totals"."shard" = ? ` +
  `and "recipient_totals"."state" = j.value ->> 0`;

/** applyTotals (recipient_totals.ts) as one text: null when no terminal state changed. */
export function totalsSqlite(delta: TotalsDelta): CompiledQuery | null {
  const changed = [...delta].filter(([, n]) => n !== 0);
  if (changed.length === 0) return null;
  for (const [, n] of changed) {
    if (!Number.isSafeInteger(n)) throw new Error(`Cannot add "${n}" to a recipient total`);
  }
  const shard = Math.floor(Math.random() * RECIPIENT_TOTAL_SHARDS);
  return CompiledQuery.raw(TOTALS_UPDATE, [JSON.stringify(changed), shard]);
}
