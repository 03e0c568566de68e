/**
 * Settle's recipient writes, grouped by verdict. A batch's recipients mostly share their result
 * (the ten recipients of one message, and the units of one batch, got the same "250 2.0.0 Ok"),
 * so one UPDATE per verdict (state, code, reply, category, DSN due) sets them all, with only the
 * time varying, by unit. The general CASE update (batch_update.ts) gives every recipient its
 * own WHEN arms in every column, and SQLite tries those arms one by one for every row: its cost
 * grew with the square of the recipients per statement (measured 197 µs per message at 10
 * recipients, batches of 20, against 33–73 here; bench/RESULTS.md, issue 19). Batches with many
 * different verdicts keep the CASE update. PostgreSQL writes every verdict in one UPDATE from
 * arrays instead (pg_unnest_update.ts: one text, planned once). Private to core/store/.
 */
import { CompiledQuery } from "kysely";
import type { Dialect } from "../../migrations/mod.ts";
import { type CaseRow, caseUpdateQuery } from "./batch_update.ts";
import { chunks } from "./_sql.ts";
import { unnestUpdateQuery, type UnnestUpdateShape } from "./pg_unnest_update.ts";

/** One recipient's new values, keyed by its row id; `unitId` is the unit whose outcome it is. */
export interface RecipientWrite {
  id: number | string;
  unitId: string;
  state: string;
  code: number | null;
  reply: string | null;
  category: string | null;
  /** A final failure owes the sender a DSN. */
  dsnDue: boolean;
  at: number;
}

/** More verdicts than this in one batch: the CASE update (one statement per chunk) instead. */
const MAX_VERDICTS = 8;
/** Row ids per grouped UPDATE (with its units' times: below SQL Server's 2 100 parameters). */
const IDS_PER_UPDATE = 500;
/** Recipients per CASE UPDATE (the fallback). */
const CASE_RECIPIENTS = 150;

function quote(dialect: Dialect, name: string): string {
  return dialect === "mysql" ? `\`${name}\`` : `"${name}"`;
}

/** The UPDATE statements that write `writes` (each id at most once). */
export function recipientWriteQueries(
  dialect: Dialect,
  writes: readonly RecipientWrite[],
): CompiledQuery[] {
  if (dialect === "postgres") return chunks([...writes], PG_RECIPIENTS).map(unnestQuery);
  const verdicts = new Map<string, RecipientWrite[]>();
  let group: RecipientWrite[] | undefined;
  for (const w of writes) {
    // Most writes share the previous one's verdict: no key to build for those.
    if (group === undefined || !sameVerdict(group[0], w)) {
      const key = JSON.stringify([w.state, w.code, w.reply, w.category, w.dsnDue]);
      group = verdicts.get(key);
      if (!group) verdicts.set(key, group = []);
    }
    group.push(w);
  }
  if (verdicts.size > MAX_VERDICTS) return caseQueries(dialect, writes);
  const out: CompiledQuery[] = [];
  for (const group of verdicts.values()) {
    for (const part of chunks(group, IDS_PER_UPDATE)) out.push(verdictQuery(dialect, part));
  }
  return out;
}

function sameVerdict(a: RecipientWrite, b: RecipientWrite): boolean {
  return a.state === b.state && a.code === b.code && a.reply === b.reply &&
    a.category === b.category && a.dsnDue === b.dsnDue;
}

/** Recipients per UPDATE on PostgreSQL (arrays: any number, one text). */
const PG_RECIPIENTS = 1_000;

/**
 * PostgreSQL: every verdict in one UPDATE from arrays (pg_unnest_update.ts), one statement text
 * whatever the batch, which the server plans once per connection.
 */
const RECIPIENTS_PG: UnnestUpdateShape = {
  table: "recipients",
  key: "id",
  keyType: "bigint",
  columns: {
    state: { type: "varchar" },
    last_code: { type: "integer" },
    last_reply: { type: "text" },
    category: { type: "varchar" },
    updated_at: { type: "bigint" },
    dsn: {
      type: "boolean",
      apply: { expr: (v, now) => `case when ${v} then 'pending' else ${now} end` },
    },
  },
  increments: ["attempts"],
};

function unnestQuery(part: RecipientWrite[]): CompiledQuery {
  return unnestUpdateQuery(
    RECIPIENTS_PG,
    part.map((w) => ({
      key: w.id,
      values: {
        state: w.state,
        last_code: w.code,
        last_reply: w.reply,
        category: w.category,
        updated_at: w.at,
        dsn: w.dsnDue,
      },
    })),
  );
}

/** One verdict's UPDATE: the shared values, the time by unit, the row ids. */
function verdictQuery(dialect: Dialect, part: readonly RecipientWrite[]): CompiledQuery {
  const parameters: unknown[] = [];
  const mark = (value: unknown, type?: string): string => {
    parameters.push(value ?? null);
    const n = parameters.length;
    const p = dialect === "postgres" ? `$${n}` : dialect === "mssql" ? `@${n}` : "?";
    return dialect === "postgres" && type ? `cast(${p} as ${type})` : p;
  };
  const q = (name: string) => quote(dialect, name);
  const first = part[0];
  const sets = [
    `${q("state")} = ${mark(first.state)}`,
    `${q("last_code")} = ${mark(first.code, "integer")}`,
    `${q("last_reply")} = ${mark(first.reply)}`,
    `${q("category")} = ${mark(first.category)}`,
  ];
  if (first.dsnDue) sets.push(`${q("dsn")} = ${mark("pending")}`);
  const times = new Map<string, number>();
  for (const w of part) times.set(w.unitId, w.at);
  const distinct = new Set(times.values());
  if (distinct.size === 1) {
    sets.push(`${q("updated_at")} = ${mark(first.at, "bigint")}`);
  } else {
    const whens = [...times].map(([unit, at]) => `when ${mark(unit)} then ${mark(at, "bigint")}`);
    sets.push(
      `${q("updated_at")} = case ${q("unit_id")} ${whens.join(" ")} else ${q("updated_at")} end`,
    );
  }
  sets.push(`${q("attempts")} = ${q("attempts")} + 1`);
  const ids = part.map((w) => mark(w.id)).join(", ");
  return CompiledQuery.raw(
    `update ${q("recipients")} set ${sets.join(", ")} where ${q("id")} in (${ids})`,
    parameters,
  );
}

/** The general form: every recipient its own CASE arms, one statement per chunk. */
function caseQueries(dialect: Dialect, writes: readonly RecipientWrite[]): CompiledQuery[] {
  const rows: CaseRow[] = writes.map((w) => ({
    key: w.id,
    values: {
      state: w.state,
      last_code: w.code,
      last_reply: w.reply,
      updated_at: w.at,
      category: w.category,
      ...(w.dsnDue ? { dsn: "pending" } : {}),
    },
  }));
  return chunks(rows, CASE_RECIPIENTS).map((part) =>
    caseUpdateQuery(dialect, "recipients", "id", part, {
      increments: ["attempts"],
      types: { last_code: "integer", updated_at: "bigint" },
    })
  );
}
