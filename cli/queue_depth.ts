/** The queue-depth gauge, read from the main thread's store when /metrics is scraped. */
import { metrics } from "../core/metrics/mod.ts";
import { withTimeout } from "../core/timeout.ts";
import type { ViewStore } from "../core/store/mod.ts";

/** Counting is a GROUP BY over the recipients: a busy scraper reads it at most every 5 s. */
const EVERY_MS = 5_000;

/** Registers the collector. */
export function collectQueueDepth(store: Pick<ViewStore, "counts">): void {
  let readAt = 0;
  metrics.onCollect(async () => {
    if (Date.now() - readAt < EVERY_MS) return;
    readAt = Date.now();
    // A database that is slow or away must not stall the scrape: the last values stay.
    const counts = await withTimeout(store.counts(Date.now()), 2_000);
    metrics.replaceGauge("fastmta_queue_depth", [
      { labels: { state: "queued" }, value: counts.queued },
      { labels: { state: "deferred" }, value: counts.deferred },
      { labels: { state: "in_flight" }, value: counts.in_flight_units },
    ]);
  });
}
