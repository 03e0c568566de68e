/**
 * Island: live queue counts. Rendered on the server with the given numbers (or loading, so the
 * dashboard does not wait for a count over the whole store), then hydrated in the browser,
 * where it refreshes from `/api/v1/queue` every two seconds.
 */
import { useState } from "preact/hooks";
import { usePolledJson } from "./poll.ts";
import type { VNode } from "preact";
import type { QueueCountsBody } from "../core/api/schemas.ts";

/** Counts as the API returns them. */
export type Counts = QueueCountsBody;

const LABELS: Partial<Record<keyof Counts, string>> = {
  queued: "Queued",
  deferred: "Deferred",
  in_flight_units: "In flight",
  delivered: "Delivered",
  failed: "Failed",
};

/** Queue counts that keep themselves fresh. */
export function QueueCounts(props: { initial?: Counts; refreshMs?: number }): VNode {
  const [counts, setCounts] = useState<Counts | null>(props.initial ?? null);
  const { live, problem } = usePolledJson<Counts>(
    "/api/v1/queue",
    props.refreshMs ?? 2000,
    setCounts,
  );
  return (
    <div>
      <div class="grid grid-cols-2 sm:grid-cols-5 gap-3">
        {(Object.entries(LABELS) as [keyof Counts, string][]).map(([key, label]) => (
          <div class="bg-white shadow rounded p-4">
            <div class="text-sm text-gray-600">{label}</div>
            <div class="text-2xl font-bold" data-count={key}>{counts ? counts[key] ?? 0 : "…"}</div>
          </div>
        ))}
      </div>
      <p
        class={`text-xs mt-2 ${problem ? "text-red-700" : "text-gray-600"}`}
        data-live={live ? "yes" : problem ? "error" : "no"}
        role={problem ? "alert" : undefined}
      >
        {live
          ? "Live"
          : problem
          ? `Cannot refresh the counts: ${problem}; retrying`
          : counts
          ? "Snapshot"
          : "Loading…"}
      </p>
    </div>
  );
}
