/**
 * What a settled batch leaves behind besides the queue rows: counters (core/metrics) and one
 * log line per unit and result (delivered; deferred with the reply and the next attempt;
 * bounced or failed with the reason), each carrying the message's queue id. Runs once the batch
 * is durable, so a line never claims an outcome the queue might still lose.
 */
import type { RecipientResult, UnitOutcome } from "../contracts/mod.ts";
import type { LogFields, LogLevel } from "../log.ts";
import { metrics, outcomeLabel, replyClass } from "../metrics/mod.ts";

/** A structured log callback (the worker posts it to the main thread's logger). */
export type OutcomeLog = (line: string, fields: LogFields, level: LogLevel) => void;

const LEVEL: Record<string, LogLevel> = {
  delivered: "info",
  deferred: "warn",
  bounced: "warn",
  failed: "error",
  suppressed: "info",
};

/** Counts and logs a durable batch. */
export function recordSettled(batch: readonly UnitOutcome[], log?: OutcomeLog): void {
  for (const outcome of batch) {
    const attempted = outcome.kind !== "held";
    const labels = {
      pool: outcome.pool ?? "",
      vmta: outcome.sourceIp ?? "",
      site: outcome.site ?? outcome.domain,
    };
    if (attempted) {
      metrics.observe("fastmta_delivery_attempt_seconds", {
        result: outcome.kind === "final" ? "final" : "deferred",
      }, outcome.durationMs / 1000);
    }
    // Recipients with the same result and reply share a line and a counter bump (a
    // 10-recipient unit delivered in one transaction: one line, two bumps).
    const groups = new Map<string, { label: string; results: RecipientResult[] }>();
    for (const r of outcome.results) {
      const label = outcomeLabel(r);
      const key = `${label}\u0001${r.code}\u0001${r.reply}`;
      const group = groups.get(key);
      if (group) group.results.push(r);
      else groups.set(key, { label, results: [r] });
    }
    for (const { label, results } of groups.values()) {
      metrics.inc("fastmta_recipients_total", { ...labels, outcome: label }, results.length);
      if (attempted && label !== "suppressed") {
        metrics.inc(
          "fastmta_smtp_replies_total",
          { class: replyClass(results[0].code) },
          results.length,
        );
      }
    }
    if (outcome.acceptedAt !== undefined && groups.size > 0) {
      for (const { label } of groups.values()) {
        if (label !== "delivered") continue;
        const seconds = Math.max(0, outcome.at - outcome.acceptedAt) / 1000;
        metrics.observe("fastmta_delivery_latency_seconds", {}, seconds);
        break;
      }
    }
    if (!log) continue;
    for (const { label, results } of groups.values()) {
      const first = results[0];
      const fields: LogFields = {
        queue_id: outcome.messageId,
        unit_id: outcome.unitId,
        outcome: label,
        recipients: results.map((r) => r.address).join(","),
        domain: outcome.domain,
        mx: outcome.mxHost,
        remote_ip: outcome.remoteIp,
        source_ip: outcome.sourceIp,
        pool: outcome.pool,
        code: first.code,
        reply: first.reply,
        category: first.category,
        duration_ms: outcome.durationMs,
      };
      if (label === "deferred" && outcome.kind === "deferred") {
        fields.next_attempt = new Date(outcome.retryAt).toISOString();
      }
      log(describe(label, results.length, first, fields), fields, LEVEL[label] ?? "info");
    }
    if (outcome.kind === "held") {
      log(`held until ${new Date(outcome.until).toISOString()}: ${outcome.why}`, {
        queue_id: outcome.messageId,
        unit_id: outcome.unitId,
        domain: outcome.domain,
      }, "debug");
    }
  }
}

function describe(label: string, n: number, first: RecipientResult, fields: LogFields): string {
  const who = n === 1 ? `<${first.address}>` : `${n} recipients`;
  switch (label) {
    case "delivered":
      return `delivered to ${who}: ${first.reply}`;
    case "deferred":
      return `deferred ${who}: ${first.reply}; next attempt ${fields.next_attempt ?? "later"}`;
    case "bounced":
      return `bounced ${who}: ${first.reply}`;
    case "suppressed":
      return `suppressed ${who}: ${first.reply}`;
    default:
      return `failed ${who}: ${first.reply}`;
  }
}
