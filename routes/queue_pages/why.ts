/**
 * The one line that says why a unit is waiting, from what queue search answers for it
 * (core/manage/queue_search.ts): held by a pause or an operator, quarantined, deferred by a
 * remote reply with the next attempt, or simply due. Times in UTC, like every console time.
 */
import type { QueueUnitBody } from "../../core/api/queue_ops.ts";
import { formatTime } from "../_components/format.ts";

/** Why `unit` has not been delivered yet; null once it is done. */
export function whyWaiting(unit: QueueUnitBody, now = Date.now()): string | null {
  const next = unit.due_at > now ? `next attempt ${formatTime(unit.due_at)}` : "due now";
  switch (unit.state) {
    case "done":
      return null;
    case "quarantined":
      return `quarantined: ${unit.hold_reason ?? "handling kept failing"}; release it to retry`;
    case "paused":
      // The scheduler writes what holds it into the last reply ("held by pause p-… (domain …)").
      return unit.last_reply?.startsWith("held")
        ? `${unit.last_reply}`
        : `held (${unit.held ?? "paused"})${unit.hold_reason ? `: ${unit.hold_reason}` : ""}`;
    case "deferred":
      return `deferred: ${unit.last_reply ?? "no reply recorded"}; ${next} (attempt ${
        unit.attempts + 1
      })`;
    case "queued":
      if (unit.held) {
        return `waiting: ${unit.held}${unit.last_reply ? ` (${unit.last_reply})` : ""}`;
      }
      return `queued, not tried yet; ${next}`;
  }
}
