/**
 * The shapes that cross stage boundaries: what accept hands the queue, what the queue hands a
 * delivery worker, and what comes back to settle. They travel between threads (postMessage)
 * and, in distributed mode, through the broker: treat changes as format changes and version them.
 */

/** Version of the queued-unit format below. */
export const UNIT_FORMAT_VERSION = 1;

/** A message accepted by an inbound channel, ready to be made durable. */
export interface NewMessage {
  id: string;
  sender: string;
  recipients: string[];
  /** Where it came from; "bounce" marks a delivery status notification we generated. */
  channel: "smtp" | "api" | "cli" | "inject" | "outbox" | "bounce";
  clientIp: string | null;
  receivedAt: number;
  body: Uint8Array;
  meta?: Record<string, unknown>;
}

/** A delivery unit leased to a worker: one message × one destination domain. */
export interface LeasedUnit {
  v: typeof UNIT_FORMAT_VERSION;
  unitId: string;
  messageId: string;
  domain: string;
  sender: string;
  attempts: number;
  createdAt: number;
  leaseToken: string;
  recipients: string[];
  /** The message's meta (pool, user, deliver_at, …) as the inbound channel stored it. */
  meta?: Record<string, unknown> | null;
}

/**
 * What happened to one recipient in one attempt. "suppressed" means it was not tried because
 * the address is on the suppression list (core/bounce); it is final, like "failed".
 */
export interface RecipientResult {
  address: string;
  outcome: "delivered" | "deferred" | "failed" | "suppressed";
  code: number | null;
  reply: string;
  /** Why it bounced or was deferred (see core/bounce/classify.ts); set before settle. */
  category?: string | null;
}

/**
 * Why a unit was deferred; each reason has its own retry schedule: `remote` (a 4xx reply) and
 * `local` (our own trouble, e.g. DKIM signing) use `retry_schedule`; `connect`, `dns` and `tls`
 * use `connect_retry_schedule`.
 */
export type RetryReason = "remote" | "local" | "connect" | "dns" | "tls";

/**
 * Why a unit was held back without being attempted (no attempt is used, none is logged):
 * a local limit, a backoff of its (source IP, site), a pause, or a scheduled send time.
 */
export type HoldReason = "local_limit" | "backoff" | "paused" | "scheduled";

/** A try inside one attempt that did not decide it (a host that was down, a switched IP). */
export interface TryRecord {
  at: number;
  durationMs: number;
  sourceIp: string | null;
  mxHost: string | null;
  remoteIp: string | null;
  code: number | null;
  reply: string;
}

/** The outcome of one delivery attempt of one unit, to be settled. */
export interface UnitOutcome {
  unitId: string;
  messageId: string;
  domain: string;
  leaseToken: string;
  at: number;
  durationMs: number;
  sourceIp: string | null;
  mxHost: string | null;
  remoteIp: string | null;
  tls: boolean;
  results: RecipientResult[];
  /** When the unit is due again if any recipient was deferred. */
  retryAt: number | null;
  /** Why recipients were deferred (the retry schedule used). */
  reason?: RetryReason | null;
  /** Set when the unit was not attempted: `results` is empty and it is due at `until`. */
  held?: { reason: HoldReason; until: number; why: string } | null;
  site?: string | null;
  pool?: string | null;
  /** TLS protocol of the connection used ("TLSv1.3"), null without TLS. */
  tlsVersion?: string | null;
  /** The server certificate was verified. */
  tlsVerified?: boolean;
  /** The node that made the attempt. */
  nodeId?: string | null;
  /** Earlier tries within this attempt (logged, they change no state). */
  tries?: TryRecord[];
}
