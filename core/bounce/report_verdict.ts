/**
 * The verdict of a parsed bounce report: what kind of report it is and, for a failure, the
 * category of its reply (core/bounce/classify.ts, the operator's rules first). Its own file so that
 * the report processor loads the classifier (re2js) with its first report, not at the SMTP
 * worker's start (tests/lazy_imports_test.ts).
 */
import type { BounceRule } from "../config/mod.ts";
import { type BounceCategory, classifyReply } from "./classify.ts";
import type { ParsedReport, ReportRecipient } from "./report_parse.ts";

/** Categories that say the address itself is dead: an async bounce in them suppresses it. */
const HARD: ReadonlySet<BounceCategory> = new Set(["bad_mailbox", "bad_domain"]);

/** How one report was classified, before its effects. */
export interface ReportVerdict {
  kind:
    | "hard_bounce"
    | "failed"
    | "soft_bounce"
    | "complaint"
    | "notice"
    | "auto_reply"
    | "unknown";
  category: string | null;
  status: string | null;
  entry: ReportRecipient | null;
}

/**
 * The verdict of a parsed report about `address` (null when it names none); `rules`: the
 * operator's bounce rules, tried first.
 */
export function verdictOf(
  parsed: ParsedReport,
  address: string | null,
  rules?: readonly BounceRule[],
): ReportVerdict {
  if (parsed.kind === "auto_reply" || parsed.kind === "unknown") {
    return { kind: parsed.kind, category: null, status: null, entry: null };
  }
  if (parsed.kind === "complaint") {
    return { kind: "complaint", category: "complaint", status: null, entry: null };
  }
  const lower = address?.toLowerCase();
  const entry = parsed.recipients.find((r) => r.address?.toLowerCase() === lower) ??
    parsed.recipients[0] ?? null;
  if (!entry) return { kind: "unknown", category: null, status: null, entry: null };
  if (entry.action !== "failed" && entry.action !== "delayed") {
    return { kind: "notice", category: null, status: entry.status, entry };
  }
  const permanent = entry.action === "failed" &&
    (entry.code !== null ? entry.code >= 500 : !entry.status?.startsWith("4."));
  const code = entry.code ?? (permanent ? 550 : 450);
  const category = classifyReply({
    code,
    text: [entry.status, entry.diagnostic].filter((t) => t).join(" "),
  }, rules);
  if (!permanent) return { kind: "soft_bounce", category, status: entry.status, entry };
  return {
    kind: HARD.has(category) ? "hard_bounce" : "failed",
    category,
    status: entry.status,
    entry,
  };
}
