/**
 * The operator's bounce rules (`bounce_rule` objects, reaching every thread as
 * `config.bounceRules` through the live view): tried before the built-in rules of classify.ts,
 * in order of priority (lower first), then name. A rule matches when its `pattern` finds a match
 * in the reply text (case-insensitive) and, when it has a `code`, the reply has that code.
 *
 * Patterns are RE2 expressions (npm re2js, a pure-JS port of RE2): matching takes time linear in
 * the text whatever the pattern, so an operator's `(a+)+$` cannot stall a delivery thread. RE2
 * has no lookaround and no backreferences: such a pattern is refused when the rule is made.
 */
import { RE2JS } from "re2js";
import type { BounceRule } from "../config/mod.ts";

/** The longest pattern accepted (the kind's schema says so too). */
export const MAX_PATTERN_LENGTH = 500;
/** Replies are matched on at most this many characters (an SMTP reply line is 512 at most). */
const MAX_TEXT = 4_096;

interface CompiledRule {
  rule: BounceRule;
  regex: RE2JS;
}

/** Compiles `pattern` as a rule does; throws with RE2's reason when it is not valid. */
export function compileBouncePattern(pattern: string): RE2JS {
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw new Error(`longer than ${MAX_PATTERN_LENGTH} characters`);
  }
  return RE2JS.compile(pattern, RE2JS.CASE_INSENSITIVE);
}

/** Why `pattern` cannot be a rule's pattern, or null when it can. */
export function bouncePatternProblem(pattern: string): string | null {
  try {
    compileBouncePattern(pattern);
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

/** Rules in the order they are tried: priority (lower first), then name. */
export function orderBounceRules<T extends BounceRule>(rules: readonly T[]): T[] {
  return [...rules].sort((a, b) =>
    a.priority - b.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  );
}

// Compiled once per rule list: the live view hands each thread a new array on every change.
const compiledLists = new WeakMap<readonly BounceRule[], CompiledRule[]>();

function compiled(rules: readonly BounceRule[]): CompiledRule[] {
  let list = compiledLists.get(rules);
  if (!list) {
    list = [];
    for (const rule of orderBounceRules(rules)) {
      try {
        list.push({ rule, regex: compileBouncePattern(rule.pattern) });
      } catch { /* validated at create time; a rule that no longer compiles is skipped */ }
    }
    compiledLists.set(rules, list);
  }
  return list;
}

/** The first operator rule matching a reply, or null. */
export function matchBounceRule(
  rules: readonly BounceRule[] | undefined,
  reply: { code: number | null; text: string },
): BounceRule | null {
  if (!rules || rules.length === 0) return null;
  const text = reply.text.length > MAX_TEXT ? reply.text.slice(0, MAX_TEXT) : reply.text;
  for (const { rule, regex } of compiled(rules)) {
    if (rule.code !== undefined && rule.code !== reply.code) continue;
    if (regex.matcher(text).find()) return rule;
  }
  return null;
}
