/**
 * Stored shaping rules by destination pattern. Since 0011 they are configuration objects of kind
 * `shaping_rule` (body `{"pattern", "rule"}`, versioned and audited, core/manage); this role
 * reads them for the scheduler's rule set and keeps the old writers working (system channel).
 */
import type { SqlContext } from "./_sql.ts";
import { putConfigObject } from "./config_objects.ts";

/** The object kind the rules are stored as. */
export const SHAPING_RULE_KIND = "shaping_rule";

/** A stored shaping rule. */
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
  /** Creates or replaces the stored rule for `pattern` (audited as channel "system"). */
  putShapingRule(pattern: string, rule: unknown, now: number): Promise<void>;
  /** Deletes the stored rule for `pattern`; false when there was none. */
  deleteShapingRule(pattern: string): Promise<boolean>;
}

async function listShapingRules({ db }: SqlContext): Promise<ShapingRuleRow[]> {
  const rows = await db.selectFrom("config_objects").select(["id", "body", "updated_at"])
    .where("kind", "=", SHAPING_RULE_KIND).where("deleted", "=", 0).orderBy("id").execute();
  return rows.map((r) => {
    let rule: unknown;
    try {
      rule = (JSON.parse(r.body) as { rule?: unknown })?.rule;
    } catch {
      rule = r.body; // Left to the policy to report as invalid.
    }
    return { pattern: r.id, rule, updatedAt: Number(r.updated_at) };
  });
}

/** The shaping rules on one database. */
export function shapingRuleRepository(ctx: SqlContext): ShapingRuleStore {
  return {
    listShapingRules: () => listShapingRules(ctx),
    putShapingRule: async (pattern, rule, now) => {
      await putConfigObject(ctx, {
        kind: SHAPING_RULE_KIND,
        id: pattern,
        body: JSON.stringify({ pattern, rule }),
        at: now,
        by: "store",
      });
    },
    deleteShapingRule: (pattern) =>
      putConfigObject(ctx, {
        kind: SHAPING_RULE_KIND,
        id: pattern,
        body: null,
        at: Date.now(),
        by: "store",
      }),
  };
}
