/**
 * What the main thread does with units the dispatcher could not hand to a delivery worker
 * (core/schedule/dispatch.ts): a unit's own failure is counted (core/queue `fail`: due again
 * after a short backoff, or quarantined), a batch-wide one is not; either way the leases are
 * released and the scheduler's in-flight count goes down, so nothing stays held.
 *
 * Talks to: the queue. Reads config: queue.quarantine_after (through the queue).
 */
import type { Queue } from "../queue/mod.ts";
import { failureReason, reportFailures } from "../queue/failures.ts";
import type { DispatchFailed } from "./dispatch.ts";

/** The dispatcher's failure handler for one node. */
export function dispatchFailureHandler(
  queue: Pick<Queue, "fail" | "release">,
  settled: (count: number) => void,
  log: (line: string) => void,
): DispatchFailed {
  return function onDispatchFailed(failures, batchWide) {
    const tokens = failures.map((f) => f.unit.leaseToken);
    const done = () => {
      queue.release(tokens, true);
      settled(failures.length);
    };
    if (batchWide) {
      log(
        `cannot hand ${failures.length} units to a delivery worker: ` +
          `${failureReason("dispatch", failures[0]?.error)}; returned, not counted`,
      );
      done();
      return;
    }
    queue.fail(failures.map(({ unit, error }) => ({
      unitId: unit.unitId,
      messageId: unit.messageId,
      leaseToken: unit.leaseToken,
      reason: failureReason("dispatch", error),
    }))).then(
      (records) => reportFailures(records, log),
      (error) => log(`cannot record ${failures.length} dispatch failures: ${error.message}`),
    ).finally(done);
  };
}
