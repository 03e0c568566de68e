/** Stored shaping rules (JSON) by destination pattern, edited live from the console and CLI. */
import type { SqlContext } from "./_sql.ts";

/** A stored shaping rule (see migrations/0003_delivery.ts). */
export interface ShapingRuleRow {
  pattern: string;
  /** The rule object as stored (validated by core/routing/policy.ts when applied). */
  rule: unknown;
  updatedAt: number;
}

/** What the scheduler's rule set and the `shaping` command take. */
export interface ShapingRuleStore {
  /** Stored shaping rules, by pattern. */
  listShapingRules(): Promise<ShapingRuleRow[]>;
  /** Creates or replaces the stored rule for `pattern`. */
  putShapingRule(pattern: string, rule: unknown, now: number): Promise<void>;
  /** Deletes the stored rule for `pattern`; false when there was none. */
  deleteShapingRule(pattern: string): Promise<boolean>;
}

async function listShapingRules({ db }: SqlContext): Promise<ShapingRuleRow[]> {
  const rows = await db.selectFrom("shaping_rules")
    .select(["pattern", "rule", "updated_at"]).orderBy("pattern").execute();
  return rows.map((r) => {
    let rule: unknown;
    try {
      rule = JSON.parse(r.rule);
    } catch {
      rule = r.rule; // Left to the policy to report as invalid.
    }
    return { pattern: r.pattern, rule, updatedAt: Number(r.updated_at) };
  });
}

async function putShapingRule(
  ctx: SqlContext,
  pattern: string,
  rule: unknown,
  now: number,
): Promise<void> {
  // Delete + insert: portable across dialects, unlike each one's upsert syntax.
  await ctx.transaction(async (trx) => {
    await trx.deleteFrom("shaping_rules").where("pattern", "=", pattern).execute();
    await trx.insertInto("shaping_rules")
      .values({ pattern, rule: JSON.stringify(rule), updated_at: now }).execute();
  });
}

async function deleteShapingRule({ db }: SqlContext, pattern: string): Promise<boolean> {
  const result = await db.deleteFrom("shaping_rules").where("pattern", "=", pattern)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** The shaping rules on one database. */
export function shapingRuleRepository(ctx: SqlContext): ShapingRuleStore {
  return {
    listShapingRules: () => listShapingRules(ctx),
    putShapingRule: (pattern, rule, now) => putShapingRule(ctx, pattern, rule, now),
    deleteShapingRule: (pattern) => deleteShapingRule(ctx, pattern),
  };
}
