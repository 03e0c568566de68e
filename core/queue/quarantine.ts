/**
 * The operator's side of quarantine (docs/quarantine.md), shared by the CLI (`fastmta queue
 * --message / release / cancel`), the JSON API and the console: a message's status with its
 * units' failure counts and quarantine reasons, releasing its quarantined units (and DSNs), and
 * cancelling what is left of it. Each action is logged.
 */
import type { MessageStatus, QuarantineStore, ViewStore } from "../store/mod.ts";
import type { CancelResult, UnitStatus } from "../store/quarantine.ts";
import type { Queue } from "./queue.ts";

/** The store roles reading a message's detail takes. */
export type MessageDetailStore = Pick<ViewStore, "messageStatus"> & {
  readonly quarantine: Pick<QuarantineStore, "units" | "dsnQuarantined">;
};

/** The store roles cancelling a message takes. */
export type CancelMessageStore = Pick<ViewStore, "messageStatus"> & {
  readonly quarantine: Pick<QuarantineStore, "cancel">;
};

/** A message's status plus its units (state, handling failures, quarantine reason). */
export type MessageDetail = MessageStatus & {
  units: UnitStatus[];
  /** Recipients whose DSN is quarantined. */
  dsn_quarantined: string[];
};

/** One message with its units, or null if unknown. */
export async function messageDetail(
  store: MessageDetailStore,
  messageId: string,
): Promise<MessageDetail | null> {
  const status = await store.messageStatus(messageId);
  if (!status) return null;
  const [units, dsn] = await Promise.all([
    store.quarantine.units(messageId),
    store.quarantine.dsnQuarantined(messageId),
  ]);
  return { ...status, units, dsn_quarantined: dsn };
}

/** What releasing a message did; null when the message is unknown. */
export interface ReleaseResult {
  /** Units released (due now, failure count reset). */
  units: number;
  /** Recipients whose quarantined DSN is pending again. */
  dsns: number;
}

/** Releases a message's quarantined units and DSNs; null when there is no such message. */
export async function releaseMessage(
  queue: Pick<Queue, "resume">,
  store: MessageDetailStore,
  messageId: string,
  log: (line: string) => void,
): Promise<ReleaseResult | null> {
  const detail = await messageDetail(store, messageId);
  if (!detail) return null;
  const dsns = detail.dsn_quarantined.length;
  const units = await queue.resume(messageId);
  if (units > 0 || dsns > 0) {
    log(`quarantine: message ${messageId} released: ${units} units, ${dsns} DSN recipients`);
  }
  return { units, dsns };
}

/** Cancels what is left of a message; null when there is no such message. */
export async function cancelMessage(
  store: CancelMessageStore,
  messageId: string,
  log: (line: string) => void,
): Promise<CancelResult | null> {
  if (!(await store.messageStatus(messageId))) return null;
  const result = await store.quarantine.cancel(messageId, Date.now());
  log(
    `queue: message ${messageId} cancelled: ${result.units} units, ${result.recipients} ` +
      `recipients failed`,
  );
  return result;
}
