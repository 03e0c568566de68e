/**
 * Checks shaping rules read from the database against the schema, on the main thread: the
 * delivery workers receive rules already checked and so never load zod and the schemas (~5 MB
 * of heap per isolate).
 */
import { shapingPattern, shapingRule } from "../config/delivery_schema.ts";
import type { CheckedRule, StoredRule } from "./policy.ts";

/** The stored rules that are valid (parsed), and "pattern: problem" for each that is not. */
export function checkStoredRules(stored: StoredRule[]): {
  rules: CheckedRule[];
  problems: string[];
} {
  const rules: CheckedRule[] = [];
  const problems: string[] = [];
  for (const row of stored) {
    const pattern = shapingPattern.safeParse(row.pattern);
    const parsed = shapingRule.safeParse(row.rule);
    if (!pattern.success || !parsed.success) {
      const issue = !pattern.success ? pattern.error.issues[0] : parsed.error!.issues[0];
      problems.push(`${row.pattern}: ${issue.path.join(".")} ${issue.message}`.trim());
      continue;
    }
    rules.push({ pattern: row.pattern, rule: parsed.data });
  }
  return { rules, problems };
}
