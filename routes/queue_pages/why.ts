/**
 * The one line that says why a unit is waiting, from what queue search answers for it
 * (core/manage/queue_search.ts): held by a pause or an operator, waiting for a connection slot
 * or a rate limit (with the limit in force for its domain), quarantined, deferred by a remote
 * reply with the next attempt ("attempt 3 of 36": the attempts the retry schedule fits in
 * max_age), or simply due. Times in UTC, like every console time.
 */
import type { QueueUnitBody } from "../../core/api/queue_ops.ts";
import type { DomainRule } from "../../core/manage/message_details.ts";
import { formatTime } from "../_components/format.ts";

function rate(r: { count: number; per: number }): string {
  const per = r.per % 3_600_000 === 0
    ? `${r.per / 3_600_000} h`
    : r.per % 60_000 === 0
    ? `${r.per / 60_000} min`
    : `${r.per / 1000} s`;
  return `${r.count} per ${per}`;
}

/** The limits of `rule` a unit held for a slot or a rate waits on. */
export function limitText(held: string, rule: DomainRule | undefined): string {
  if (!rule) return "";
  const parts = held === "cluster_limit"
    ? [
      rule.clusterMaxConnections !== null
        ? `cluster limit ${rule.clusterMaxConnections} connections`
        : "",
      rule.clusterMessageRate ? `cluster rate ${rate(rule.clusterMessageRate)}` : "",
    ]
    : [
      `local limit ${rule.maxConnections} connections`,
      ...rule.messageRates.map((r) => `rate ${rate(r)}`),
    ];
  const text = parts.filter(Boolean).join(", ");
  return text ? ` (${text})` : "";
}

/** Why `unit` has not been delivered yet; null once it is done. */
export function whyWaiting(
  unit: QueueUnitBody,
  now = Date.now(),
  rule?: DomainRule,
): string | null {
  const next = unit.due_at > now ? `next attempt ${formatTime(unit.due_at)}` : "due now";
  const of = rule ? ` of ${rule.maxAttempts}` : "";
  switch (unit.state) {
    case "done":
      return null;
    case "quarantined":
      return `quarantined: ${unit.hold_reason ?? "handling kept failing"}; release it to retry`;
    case "paused":
      if (unit.held === "cluster_limit" || unit.held === "local_limit") {
        // The worker's words name the site and what is full ("gmail: all 20 cluster …").
        return `waiting for a connection slot: ${unit.last_reply ?? unit.held}${
          limitText(unit.held, rule)
        }; ${next} (attempt ${unit.attempts + 1}${of})`;
      }
      // The scheduler writes what holds it into the last reply ("held by pause p-… (domain …)").
      return unit.last_reply?.startsWith("held")
        ? `${unit.last_reply}`
        : `held (${unit.held ?? "paused"})${unit.hold_reason ? `: ${unit.hold_reason}` : ""}`;
    case "deferred":
      return `deferred: ${unit.last_reply ?? "no reply recorded"}; ${next} (attempt ${
        unit.attempts + 1
      }${of})`;
    case "queued":
      if (unit.held) {
        return `waiting: ${unit.held}${unit.last_reply ? ` (${unit.last_reply})` : ""}`;
      }
      return `queued, not tried yet; ${next}`;
  }
}
