/**
 * Per-unit handling failures, shared by every stage that handles units in batches (dispatch,
 * delivery, settle, the broker consumer; docs/quarantine.md): telling a failure of one unit
 * from a batch-wide one, and reporting what recording it did.
 *
 * A failure counts against a unit only when it is the unit's own: the database or the broker
 * being away is the node's trouble, never counted (the unit is simply handled again later).
 */
import { StoreUnavailableError } from "../store/health.ts";
import type { FailureRecord } from "../store/quarantine.ts";
import { BrokerUnavailableError } from "./settings.ts";

export type { FailureRecord, UnitFailure } from "../store/quarantine.ts";

/** Whether `error` says the database or the broker is away (a batch-wide failure). */
export function isInfrastructureError(error: unknown): boolean {
  return error instanceof StoreUnavailableError || error instanceof BrokerUnavailableError ||
    (error instanceof Error &&
      (error.name === "StoreUnavailableError" || error.name === "BrokerUnavailableError"));
}

/** "stage: message" for a failure reason, from anything thrown. */
export function failureReason(stage: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return `${stage}: ${message || (error as Error)?.name || "unknown error"}`;
}

/** Logs what recording failures did: one line per unit, louder for a quarantine. */
export function reportFailures(
  records: FailureRecord[],
  log: (line: string) => void,
  onQuarantined: (record: FailureRecord) => void = () => {},
): void {
  for (const r of records) {
    if (!r.counted) {
      log(`unit ${r.unitId}: ${r.reason} (not counted: the unit had moved on)`);
    } else if (r.quarantined) {
      onQuarantined(r); // the "quarantined" event (core/events), from the caller's stage
      log(
        `quarantine: unit ${r.unitId} of message ${r.messageId} quarantined after ` +
          `${r.failures} handling failures: ${r.reason} (release: fastmta queue release ` +
          `${r.messageId}; cancel: fastmta queue cancel ${r.messageId})`,
      );
    } else {
      log(
        `unit ${r.unitId}: handling failure ${r.failures}: ${r.reason}; due again at ` +
          `${new Date(r.retryAt ?? Date.now()).toISOString()}`,
      );
    }
  }
}
