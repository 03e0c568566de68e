/**
 * Row shapes of the mail itself: messages, their delivery units and recipients, the delivery log,
 * the outbox of messages handed over by applications, and the bounce reports received. Part of the
 * database schema type (tables.ts); see migrations/ for the DDL.
 */
import type { Generated } from "kysely";

/** `messages`: raw message bytes and the envelope sender, written once at accept. */
export interface MessagesTable {
  id: string;
  sender: string;
  created_at: number;
  size: number;
  recipient_count: number;
  channel: string;
  client_ip: string | null;
  meta: string | null;
  body: Uint8Array;
  /**
   * Broker queue only (0007): when the batch was committed before the broker confirmed its
   * units; null (the default) once confirmed, and always in embedded mode.
   */
  unconfirmed_since: number | null;
  /** The pool it was sent with (0016, from meta.pool), for search. */
  pool: Generated<string | null>;
  /** Its tag (0016, from meta.tag or meta.metadata.tag), for search. */
  tag: Generated<string | null>;
  /** The API key name it was sent with (0017, from meta.api_key), for a sender's search. */
  api_key: Generated<string | null>;
  /** The spool segment holding the bytes (0022), null when `body` holds them. */
  body_segment: Generated<string | null>;
  /** Where in the segment the bytes start (0022); their length is `size`. */
  body_offset: Generated<number | string | null>;
}

/** `queue`: delivery units (message × destination domain). */
export interface QueueTable {
  id: string;
  message_id: string;
  domain: string;
  /** "quarantined" (0010): handling failed `queue.quarantine_after` times; held for an operator. */
  state: "queued" | "done" | "quarantined";
  due_at: number;
  attempts: number;
  lease_owner: string | null;
  lease_token: string | null;
  created_at: number;
  updated_at: number;
  last_reply: string | null;
  /** Why the unit waits unattempted: paused, backoff, local_limit, cluster_limit, scheduled. */
  held: string | null;
  /** Broker queue only (0005): which published copy of the unit is the live one. */
  copy_seq: Generated<number>;
  /** Handling failures (0010, core/store/quarantine.ts); not delivery attempts. */
  failures: Generated<number>;
  /** The last handling failure (0010). */
  failure_reason: string | null;
  /** When the unit was quarantined (0010), null otherwise. */
  quarantined_at: number | null;
  /** The last reply's SMTP code (0018), for search; null before the first reply. */
  reply_code: Generated<number | null>;
  /** The last reply's enhanced status, e.g. "4.7.1" (0018), for search. */
  reply_status: Generated<string | null>;
}

/** `recipients`: per-recipient delivery state. */
export interface RecipientsTable {
  id: Generated<number>;
  unit_id: string;
  message_id: string;
  address: string;
  state: RecipientState;
  attempts: number;
  last_code: number | null;
  last_reply: string | null;
  updated_at: number;
  /** Bounce category of the last attempt (0004). */
  category: string | null;
  /**
   * Delivery status notification (0004): null (none due), "pending" (due, set by settle),
   * "claim:…" (being built by one worker), "sent" or "skipped" (NOTIFY, null sender).
   */
  dsn: string | null;
  /** Failures building this recipient's DSN (0010); at the limit `dsn` is "quarantined". */
  dsn_failures: Generated<number>;
  /** "sent" once the one "delayed" DSN went out (0013); null before. */
  delay_dsn?: string | null;
}

/** Where a recipient stands. */
/** "bounced" (0013): delivered to the first hop, then an asynchronous hard bounce came back. */
export type RecipientState =
  | "queued"
  | "deferred"
  | "delivered"
  | "failed"
  | "suppressed"
  | "bounced";

/** Recipient states that still need delivery. */
export const OPEN_RECIPIENT_STATES: ReadonlySet<string> = new Set<RecipientState>([
  "queued",
  "deferred",
]);

/** `recipient_totals` (0024): a shard of one terminal state's recipient total. */
export interface RecipientTotalsTable {
  state: RecipientState;
  shard: number;
  n: number;
}

/** `attempts`: the delivery log, one row per recipient per attempt. */
export interface AttemptsTable {
  id: Generated<number>;
  at: number;
  message_id: string;
  unit_id: string;
  recipient: string;
  domain: string;
  /**
   * "tried": a try inside an attempt that did not decide it (recipient ""); "suppressed": not
   * tried, the address is on the suppression list; "cancelled" (0016): an operator cancelled it.
   */
  outcome: "delivered" | "deferred" | "failed" | "suppressed" | "tried" | "cancelled";
  code: number | null;
  reply: string | null;
  source_ip: string | null;
  mx_host: string | null;
  remote_ip: string | null;
  tls: number;
  duration_ms: number;
  node_id: string | null;
  /** Retry reason of a deferral: remote, connect, dns, tls. */
  reason: string | null;
  site: string | null;
  pool: string | null;
  tls_version: string | null;
  tls_verified: number;
  /** Bounce category (0004). */
  category: string | null;
}

/** `outbox` (0009): one row per message an application hands over (payload: inject v1 JSON). */
export interface OutboxTable {
  id: Generated<number>;
  payload: string;
  created_at: Generated<number>;
  state: Generated<OutboxState>;
  claimed_by: string | null;
  claimed_at: number | null;
  message_id: string | null;
  error: string | null;
  /** When the row became `accepted` or `failed` (for pruning). */
  finished_at: number | null;
}

/** Where an outbox row is: waiting, being accepted by a node, done, or refused for good. */
export type OutboxState = "new" | "claimed" | "accepted" | "failed";

/** `bounce_reports` (0013): mail received for bounce/feedback domains, raw and as parsed. */
export interface BounceReportsTable {
  id: string;
  received_at: number;
  /** "new" (stored, not parsed yet), "claim:…", "processed" or "refused". */
  state: string;
  client_ip: string | null;
  mail_from: string;
  /** The envelope recipients, JSON. */
  rcpt_to: string;
  raw: Uint8Array;
  kind: string | null;
  message_id: string | null;
  recipient: string | null;
  category: string | null;
  status: string | null;
  detail: string | null;
  processed_at: number | null;
  expires_at: number;
}
