/**
 * What the main thread does with units that could not be posted to a delivery worker for a
 * reason of their own (core/schedule/dispatch.ts `postIsolated`): the failure is counted
 * (core/queue `fail`: due again after a short backoff, or quarantined), then the scheduler lets
 * go of them and the leasing side releases them, so nothing stays held. (A batch-wide failure
 * never gets here: Scheduler.handOver returns such a batch, counting nothing.)
 *
 * Talks to: the queue. Reads config: queue.quarantine_after (through the queue).
 */
import type { Queue } from "../queue/mod.ts";
import { failureReason, reportFailures } from "../queue/failures.ts";
import { emitQuarantined } from "../events/mod.ts";
import type { DispatchFailed } from "./dispatch.ts";

/** The dispatch failure handler of one node. */
export function dispatchFailureHandler(
  queue: Pick<Queue, "fail" | "release">,
  settled: (tokens: string[], unitIds: string[]) => void,
  log: (line: string) => void,
): DispatchFailed {
  return function onDispatchFailed(failures) {
    const tokens = failures.map((f) => f.unit.leaseToken);
    queue.fail(failures.map(({ unit, error }) => ({
      unitId: unit.unitId,
      messageId: unit.messageId,
      leaseToken: unit.leaseToken,
      reason: failureReason("dispatch", error),
    }))).then(
      (records) => reportFailures(records, log, emitQuarantined),
      (error) => log(`cannot record ${failures.length} dispatch failures: ${error.message}`),
    ).finally(() => {
      settled(tokens, failures.map((f) => f.unit.unitId));
      queue.release(tokens, true);
    });
  };
}
