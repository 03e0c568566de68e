/** The webhook tables (migrations/0015_webhooks.ts), for Kysely. */
import type { Generated } from "kysely";

/** `webhooks`: one configured webhook with its delivery status and posting lease. */
export interface WebhooksTable {
  id: string;
  url: string;
  /** JSON array of event types. */
  events: string;
  /** Sealed with the master key (core/manage/webhooks.ts). */
  secret: string;
  enabled: number;
  version: number;
  created_at: number;
  updated_at: number;
  updated_by: string;
  lease_node: string | null;
  lease_until: Generated<number>;
  next_attempt_at: Generated<number>;
  failures: Generated<number>;
  last_attempt_at: number | null;
  last_success_at: number | null;
  last_status: number | null;
  last_error: string | null;
  delivered: Generated<number>;
  dead: Generated<number>;
}

/** `webhook_outbox`: events waiting to be posted to one webhook (one hub flush's worth). */
export interface WebhookOutboxTable {
  seq: Generated<number>;
  webhook_id: string;
  /** When the oldest of them happened. */
  created_at: number;
  events: number;
  /** The events, a JSON array. */
  body: string;
}

/** `webhook_dead_letters`: a batch given up, kept whole until replayed. */
export interface WebhookDeadLettersTable {
  id: Generated<number>;
  webhook_id: string;
  created_at: number;
  first_event_at: number;
  events: number;
  /** JSON array of the events. */
  body: string;
  reason: string;
  replayed_at: number | null;
}

/** `webhook_attempts`: one POST of a batch. */
export interface WebhookAttemptsTable {
  id: Generated<number>;
  webhook_id: string;
  at: number;
  node: string;
  events: number;
  status: number | null;
  error: string | null;
  duration_ms: number;
}
