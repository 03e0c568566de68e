/**
 * The operator's bounce rules (core/bounce/operator_rules.ts): tried before the built-in rules,
 * by priority then name, `code` narrowing; patterns validated when a rule is made (400 naming
 * `pattern`), RE2 so a catastrophic pattern runs in linear time; the live state orders them.
 */
import { assert, assertEquals, assertRejects } from "./helpers/assert.ts";
import { classifyOutcome, classifyReply } from "../core/bounce/classify.ts";
import { matchBounceRule } from "../core/bounce/operator_rules.ts";
import { verdictOf } from "../core/bounce/report_verdict.ts";
import type { BounceRule } from "../core/config/mod.ts";
import { type Actor, openManagement, ValidationError } from "../core/manage/mod.ts";
import { bounceRuleSchema } from "../core/manage/kinds.ts";
import { managedParts } from "../core/manage/live_state.ts";
import type { ConfigObjectRecord } from "../core/store/mod.ts";
import { withStore } from "./helpers/store_contract.ts";

const CUSTOM = { code: 550, text: "550 5.7.1 custom text from the provider" };

function rule(extra: Partial<BounceRule> & { name: string; category: string }): BounceRule {
  return { pattern: "custom text", priority: 100, ...extra };
}

Deno.test("bounce rules: an operator rule wins over the built-in category", () => {
  assertEquals(classifyReply(CUSTOM), "policy"); // built in: 5.7.1
  assertEquals(classifyReply(CUSTOM, [rule({ name: "a", category: "spam_block" })]), "spam_block");
  assertEquals(classifyReply(CUSTOM, []), "policy");
  // A rule that does not match falls through to the built-in rules.
  assertEquals(
    classifyReply(CUSTOM, [rule({ name: "a", pattern: "^nothing", category: "spam_block" })]),
    "policy",
  );
});

Deno.test("bounce rules: lower priority first, then by name", () => {
  const rules = [
    rule({ name: "zeta", category: "auth", priority: 10 }),
    rule({ name: "beta", category: "content", priority: 50 }),
    rule({ name: "alpha", category: "spam_block", priority: 50 }),
  ];
  assertEquals(matchBounceRule(rules, CUSTOM)?.name, "zeta");
  assertEquals(matchBounceRule(rules.slice(1), CUSTOM)?.name, "alpha");
  assertEquals(classifyReply(CUSTOM, rules.slice(1)), "spam_block");
});

Deno.test("bounce rules: code must match; patterns are case-insensitive", () => {
  const only421 = [rule({ name: "a", pattern: "CUSTOM TEXT", code: 421, category: "rate_limit" })];
  assertEquals(classifyReply(CUSTOM, only421), "policy");
  assertEquals(classifyReply({ code: 421, text: "421 custom text" }, only421), "rate_limit");
  const outcome = classifyOutcome(
    {
      unitId: "u1",
      results: [{ recipient: "a@example.test", outcome: "failed", code: 550, reply: CUSTOM.text }],
    } as unknown as Parameters<typeof classifyOutcome>[0],
    [
      rule({ name: "a", category: "bad_mailbox" }),
    ],
  );
  assertEquals(outcome.results[0].category, "bad_mailbox");
});

Deno.test("bounce rules: a catastrophic pattern matches in linear time (RE2)", () => {
  const evil = [rule({ name: "evil", pattern: "(a+)+$", category: "other" })];
  // With a backtracking engine this text would not finish; RE2 answers at once.
  assertEquals(classifyReply({ code: 550, text: "a".repeat(4_000) + "!" }, evil), "other");
  assertEquals(matchBounceRule(evil, { code: 550, text: "a".repeat(4_000) + "!" }), null);
});

Deno.test("bounce rules: the schema names pattern and category when they are wrong", () => {
  const paths = (input: unknown) => {
    const result = bounceRuleSchema.safeParse(input);
    return result.success ? [] : result.error.issues.map((i) => i.path.join("."));
  };
  assertEquals(paths({ name: "a", pattern: "custom", category: "spam_block" }), []);
  assertEquals(paths({ name: "a", pattern: "(unclosed", category: "spam_block" }), ["pattern"]);
  assertEquals(paths({ name: "a", pattern: "(?=x)y", category: "spam_block" }), ["pattern"]);
  assertEquals(paths({ name: "a", pattern: "x".repeat(501), category: "spam_block" }), [
    "pattern",
  ]);
  assertEquals(paths({ name: "a", pattern: "custom", category: "nonsense" }), ["category"]);
});

Deno.test({
  name: "bounce rules: a bad regex is a ValidationError naming pattern, nothing stored",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withStore("sqlite3", async (store) => {
      const admin: Actor = { name: "alice", role: "admin", channel: "api" };
      const m = openManagement(store);
      const start = await m.configVersion();
      const bad = await assertRejects(() =>
        m.objects.bounce_rule.create({ name: "r", pattern: "(", category: "spam_block" }, admin)
      );
      assert(bad instanceof ValidationError, String(bad));
      assertEquals(bad.issues.map((i) => i.path), ["pattern"]);
      assert(/regular expression/.test(bad.issues[0].message), bad.issues[0].message);
      assertEquals(await m.configVersion(), start);
      assertEquals((await m.objects.bounce_rule.list({})).items, []);
    }),
});

Deno.test("bounce rules: the live state hands them over ordered", () => {
  const record = (id: string, body: unknown, version = 1): ConfigObjectRecord =>
    ({ kind: "bounce_rule", id, version, body: JSON.stringify(body) }) as ConfigObjectRecord;
  const parts = managedParts([
    record("b", { name: "b", pattern: "x", category: "auth", priority: 100 }),
    record("a", { name: "a", pattern: "y", code: 550, category: "policy", priority: 100 }),
    record("c", { name: "c", pattern: "z", category: "content", priority: 5 }),
  ], "node-a");
  assertEquals(parts.bounceRules.map((r) => r.name), ["c", "a", "b"]);
  assertEquals(parts.bounceRules[1], {
    name: "a",
    pattern: "y",
    code: 550,
    category: "policy",
    priority: 100,
  });
});

Deno.test("bounce rules: an asynchronous bounce report's verdict uses them too", () => {
  const parsed = {
    kind: "bounce",
    format: "rfc3464",
    recipients: [{
      address: "bob@example.org",
      action: "failed",
      status: "5.7.1",
      diagnostic: "550 5.7.1 custom text from the provider",
      code: 550,
    }],
    feedbackType: null,
    original: { returnPath: null },
  } as unknown as Parameters<typeof verdictOf>[0];
  const built = verdictOf(parsed, "bob@example.org");
  assertEquals([built.kind, built.category], ["failed", "policy"]);
  const ruled = verdictOf(parsed, "bob@example.org", [
    rule({ name: "dead", category: "bad_mailbox" }),
  ]);
  // The rule's category decides, and with it the verdict (a hard bounce suppresses).
  assertEquals([ruled.kind, ruled.category], ["hard_bounce", "bad_mailbox"]);
});
