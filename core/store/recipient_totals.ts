/**
 * Totals of recipients in the terminal states (delivered, failed, suppressed, bounced), kept in
 * `recipient_totals` (0024) so the queue counts need not group every recipient row. Every path
 * that moves recipients into or out of a terminal state collects the changes of its batch in a
 * {@link TotalsDelta} and applies it with one UPDATE in the same transaction (settle, cancel,
 * async bounces, the broker sweeper); a random shard row per state keeps concurrent batches on
 * PostgreSQL/MySQL from queueing behind one row lock. A new path that changes a recipient's
 * state or deletes recipient rows must do the same, and join the mix of moves in
 * tests/helpers/queue_counts_case.ts (which compares the counts with a full GROUP BY).
 * Private to core/store/.
 */
import { CompiledQuery, type Kysely, sql } from "kysely";
import { RECIPIENT_TOTAL_SHARDS } from "../../migrations/0024_recipient_totals.ts";
import type { SqlContext } from "./_sql.ts";
import type { RecipientState, Tables } from "./tables.ts";

/** The states whose totals are kept; the open ones are counted live (views.ts). */
export const TERMINAL_STATES = ["delivered", "failed", "suppressed", "bounced"] as const;

/** A terminal recipient state. */
export type TerminalState = typeof TERMINAL_STATES[number];

const TERMINAL: ReadonlySet<string> = new Set(TERMINAL_STATES);

/** Changes to the totals by one batch, by state (negative: recipients left the state). */
export type TotalsDelta = Map<TerminalState, number>;

/** Records that `n` recipients went from `from` to `to` (either may be open or absent). */
export function countMove(
  delta: TotalsDelta,
  move: { from?: RecipientState | null; to?: RecipientState | null },
  n = 1,
): void {
  const { from, to } = move;
  if (from === to || n === 0) return;
  if (from && TERMINAL.has(from)) bump(delta, from as TerminalState, -n);
  if (to && TERMINAL.has(to)) bump(delta, to as TerminalState, n);
}

function bump(delta: TotalsDelta, state: TerminalState, n: number): void {
  delta.set(state, (delta.get(state) ?? 0) + n);
}

/**
 * Adds `delta` to the totals: one UPDATE of one shard row per changed state, nothing when the
 * batch changed no terminal state. Call it inside the transaction that moved the recipients,
 * after the batch's other writes (the shard's lock is then held only until the commit).
 */
export async function applyTotals(db: Kysely<Tables>, delta: TotalsDelta): Promise<void> {
  const changed = [...delta].filter(([, n]) => n !== 0);
  if (changed.length === 0) return;
  for (const [, n] of changed) {
    if (!Number.isSafeInteger(n)) throw new Error(`Cannot add "${n}" to a recipient total`);
  }
  // Literals, not parameters: PostgreSQL would type parameters in a CASE as text.
  const cases = sql.join(
    changed.map(([state, n]) => sql`when ${sql.lit(state)} then ${sql.lit(n)}`),
    sql` `,
  );
  const shard = Math.floor(Math.random() * RECIPIENT_TOTAL_SHARDS);
  await db.updateTable("recipient_totals")
    .set({ n: sql`n + case state ${cases} else 0 end` })
    .where("shard", "=", shard)
    .where("state", "in", changed.map(([state]) => state))
    .execute();
}

/**
 * applyTotals as one statement to run later, on PostgreSQL: states and numbers as arrays, one
 * text whatever they are (settle writes it with its other writes: units_settle.ts). Null when
 * the batch changed no terminal state.
 */
export function pgTotalsQuery(delta: TotalsDelta): CompiledQuery | null {
  const changed = [...delta].filter(([, n]) => n !== 0);
  if (changed.length === 0) return null;
  for (const [, n] of changed) {
    if (!Number.isSafeInteger(n)) throw new Error(`Cannot add "${n}" to a recipient total`);
  }
  return CompiledQuery.raw(
    `update "recipient_totals" as t set "n" = t."n" + v."n" ` +
      `from unnest($1::varchar[], $2::bigint[]) as v("state", "n") ` +
      `where t."shard" = $3 and t."state" = v."state"`,
    [
      changed.map(([state]) => state),
      changed.map(([, n]) => n),
      Math.floor(Math.random() * RECIPIENT_TOTAL_SHARDS),
    ],
  );
}

/** The terminal totals now: at most a few dozen shard rows summed. */
export async function terminalTotals(
  db: Kysely<Tables>,
): Promise<Record<TerminalState, number>> {
  const rows = await db.selectFrom("recipient_totals")
    .select((eb) => ["state", eb.fn.sum<number>("n").as("n")])
    .groupBy("state").execute();
  const totals = { delivered: 0, failed: 0, suppressed: 0, bounced: 0 };
  for (const row of rows) {
    if (TERMINAL.has(row.state)) totals[row.state as TerminalState] = Number(row.n);
  }
  return totals;
}

/** One terminal state's total before and after a recount. */
export interface TotalRecount {
  state: TerminalState;
  before: number;
  after: number;
}

/**
 * Sets the totals to a full count of the recipient rows (`fastmta queue recount`): for totals a
 * writer without this bookkeeping left wrong (a node of a version before 0024). The shard rows
 * are locked first, so a concurrent batch either committed before the count (and is in it) or
 * waits and adds its delta after; SQLite has one writer anyway.
 */
export async function recountTotals(ctx: SqlContext): Promise<TotalRecount[]> {
  return await ctx.transaction(async (trx) => {
    let locked = trx.selectFrom("recipient_totals").select(["state", "shard", "n"]);
    if (ctx.dialect !== "sqlite3") locked = locked.forUpdate();
    const shards = await locked.execute();
    const before = new Map<string, number>();
    for (const s of shards) before.set(s.state, (before.get(s.state) ?? 0) + Number(s.n));
    const counted = await trx.selectFrom("recipients")
      .select((eb) => ["state", eb.fn.countAll<number>().as("n")])
      .where("state", "in", [...TERMINAL_STATES])
      .groupBy("state").execute();
    const after = new Map(counted.map((r) => [r.state, Number(r.n)]));
    // In place, not delete and insert: a batch waiting on a shard's lock must find its row.
    for (const state of TERMINAL_STATES) {
      await trx.updateTable("recipient_totals").set({ n: 0 })
        .where("state", "=", state).where("shard", "!=", 0).execute();
      await trx.updateTable("recipient_totals").set({ n: after.get(state) ?? 0 })
        .where("state", "=", state).where("shard", "=", 0).execute();
    }
    return TERMINAL_STATES.map((state) => ({
      state,
      before: before.get(state) ?? 0,
      after: after.get(state) ?? 0,
    }));
  });
}
