/**
 * The queue by domain, pool or vmta as the page and `GET /api/v1/queue/by/{by}` show it: the
 * store's counts (core/store/queue_summary.ts) with the pause in force on exactly each row, so a
 * row offers Resume (that pause) or Pause (a new one of that scope).
 */
import type { PauseBody } from "../api/queue_ops.ts";
import type { QueueViewBody } from "../api/queue_views.ts";
import type { QueueGrouping, QueueSummaryStore } from "../store/mod.ts";

/** The pause a row's Pause button adds: the form fields of POST /queue/pauses. */
export function pauseFieldsFor(by: QueueGrouping, key: string): Record<string, string> {
  return by === "domain" ? { domain: key } : { source_kind: by, source: key };
}

/** The pause in force on exactly this row (no other condition), or null. */
export function rowPause(pauses: PauseBody[], by: QueueGrouping, key: string): PauseBody | null {
  if (key === "") return null;
  return pauses.find((p) => {
    if (!p.in_force || p.tag || p.site) return false;
    return by === "domain"
      ? p.domain === key && !p.source && !p.source_kind
      : p.source_kind === by && p.source === key && !p.domain;
  }) ?? null;
}

/** One view with its rows' pauses. */
export async function queueView(
  store: QueueSummaryStore,
  pauses: PauseBody[],
  by: QueueGrouping,
  limit: number,
): Promise<QueueViewBody> {
  const view = await store.openUnitsBy(by, limit);
  return {
    by,
    counted: view.counted,
    sampled: view.sampled,
    rows: view.rows.map((r) => ({
      key: r.key,
      ...r.counts,
      total: r.total,
      pause_id: rowPause(pauses, by, r.key)?.id ?? null,
    })),
  };
}
