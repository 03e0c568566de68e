/**
 * The event format: what the accounting log writes (one JSON line each), webhooks post (in
 * batches) and the events exchange carries. It lives here, with the other versioned formats,
 * because receivers outside fastmta read it: a change is a format change (bump
 * `EVENT_FORMAT_VERSION`, add fields rather than rename them). Field names are snake_case, as
 * in the REST API. Built by core/events/build.ts.
 */

/** Version of the `FastmtaEvent` format below (`v` in every event). */
export const EVENT_FORMAT_VERSION = 1;

/** Every kind of event, as named in the `type` field and in webhook subscriptions. */
export const EVENT_TYPES = [
  /** A message was made durable (after its 250/202). */
  "received",
  /** A recipient was accepted by the remote server. */
  "delivered",
  /** A recipient got a temporary failure; it is tried again at `retry_at`. */
  "deferred",
  /** A recipient failed for good (a 5xx, or sync bounce). */
  "bounced",
  /** A recipient failed because the message became too old to try again (`delivery.max_age`). */
  "expired",
  /** A recipient was not tried: the address is on the suppression list. */
  "suppressed",
  /** An address was added to the suppression list (after a hard bounce, or by an operator). */
  "suppression_added",
  /** A complaint (feedback loop report) about a message. */
  "complaint",
  /** A unit or a DSN was quarantined after repeated handling failures. */
  "quarantined",
  /** An operator paused or resumed sending (a pool, a domain, a queue). */
  "paused",
  "resumed",
  /** An operator changed configuration (management plane). */
  "admin_change",
] as const;

/** The `type` of an event. */
export type EventType = typeof EVENT_TYPES[number];

/** Whether `value` names an event type. */
export function isEventType(value: unknown): value is EventType {
  return typeof value === "string" && (EVENT_TYPES as readonly string[]).includes(value);
}

/**
 * One event. Every field but `v`, `id`, `type`, `at` and `node` is optional: each type fills
 * what it knows (a reception has no remote host; an admin change has no recipient).
 */
export interface FastmtaEvent {
  v: typeof EVENT_FORMAT_VERSION;
  /** Unique per event (receivers use it to drop a duplicate of an at-least-once post). */
  id: string;
  type: EventType;
  /** When it happened, ms since the epoch. */
  at: number;
  /** The node where it happened. */
  node: string;
  message_id?: string;
  unit_id?: string;
  sender?: string;
  recipient?: string;
  /** Recipients of a reception. */
  recipients?: string[];
  domain?: string;
  /** How the message came in (reception): smtp, api, cli, inject, outbox, bounce. */
  channel?: string;
  client_ip?: string | null;
  size?: number;
  /** The source IP (virtual MTA), its pool, and the destination site. */
  vmta?: string | null;
  pool?: string | null;
  site?: string | null;
  mx_host?: string | null;
  remote_ip?: string | null;
  /** The remote reply: code and text. */
  code?: number | null;
  reply?: string;
  /** Bounce category (core/bounce/classify.ts). */
  category?: string | null;
  tls?: { used: boolean; version?: string | null; verified?: boolean };
  /** Attempt number (1 for the first), its duration, and the time since the message came in. */
  attempt?: number;
  duration_ms?: number;
  queue_time_ms?: number;
  /** Deferred: when it is tried again, and why (remote, local, connect, dns, tls). */
  retry_at?: number;
  retry_reason?: string;
  /** The message's metadata (tenant, campaign, tags…) as the inbound channel stored it. */
  metadata?: Record<string, unknown> | null;
  /** Quarantine, pause and admin events: what, why, who. */
  subject?: string;
  reason?: string;
  actor?: string;
  /** Admin changes: the object kind, id, action and version. */
  object?: { kind: string; id: string; action: string; version?: number };
}
