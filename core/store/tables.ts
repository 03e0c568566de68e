/**
 * Row shapes of every SQL table, as Kysely sees them (see migrations/ for the DDL): the one
 * schema type of the database. Only core/store/ reads it (tests/store_boundary_test.ts).
 */
import type { Generated } from "kysely";
import type {
  WebhookAttemptsTable,
  WebhookDeadLettersTable,
  WebhookOutboxTable,
  WebhooksTable,
} from "./webhook_tables.ts";

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

/** `shaping_rules`: stored shaping rules (JSON) by destination pattern. */
export interface ShapingRulesTable {
  pattern: string;
  rule: string;
  updated_at: number;
}

/**
 * `suppression_entries` (0016, replacing `suppressions` and `sender_suppressions`): addresses not sent to, for
 * every sending domain (`scope` "") or one; `expires_at` null for never.
 */
export interface SuppressionEntriesTable {
  address: string;
  scope: string;
  category: string;
  source: string;
  code: number | null;
  reason: string | null;
  message_id: string | null;
  created_at: number;
  expires_at: number | null;
  created_by: string | null;
}

/** `sending_domains` (0016): the domains we send for; their keys are in `dkim_keys`. */
export interface SendingDomainsTable {
  name: string;
  bounce_domain: string | null;
  version: number;
  created_at: number;
  updated_at: number;
  updated_by: string;
}

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

/** `cluster_secrets` (0013): secrets every node shares (base64url). */
export interface ClusterSecretsTable {
  name: string;
  secret: string;
  created_at: number;
}

/** `dkim_keys` (0004): signing keys per domain and selector; `private_key` is sealed. */
export interface DkimKeysTable {
  domain: string;
  selector: string;
  algorithm: string;
  private_key: string;
  public_key: string;
  created_at: number;
  /** 0011: set when rotated out (no longer signs). */
  retired_at: number | null;
}

/** `smtp_users`: accounts for SMTP AUTH (see migrations/0002_smtp_users.ts). */
export interface SmtpUsersTable {
  username: string;
  password_hash: string;
  cram_secret: string | null;
  max_recipients: number | null;
  max_messages_per_minute: number | null;
  created_at: number;
  updated_at: number;
}

/** `admin_users`: console users. */
export interface AdminUsersTable {
  username: string;
  password_hash: string;
  created_at: number;
  /** 0012: admin, operator, viewer or sender. */
  role: string;
}

/** `admin_sessions`: console sessions, keyed by the hash of the cookie token. */
export interface AdminSessionsTable {
  token_hash: string;
  username: string;
  csrf_token: string;
  created_at: number;
  expires_at: number;
}

/** `api_keys`: keys for the REST API, stored as their SHA-256 (migrations/0008_api_keys.ts). */
export interface ApiKeysTable {
  name: string;
  key_hash: string;
  created_at: number;
  last_used_at: number | null;
  /** 0012: admin, operator, viewer or sender. */
  role: string;
}

/** `nodes` (0005): one row per node. */
export interface NodesTable {
  id: string;
  name: string;
  hostname: string | null;
  pid: number | null;
  started_at: number;
  heartbeat_at: number;
  stopped_at: number | null;
  info: string | null;
}

/** `config_overrides` (0005): cluster-wide edits; `value` is JSON, null for a removed override. */
export interface ConfigOverridesTable {
  key: string;
  value: string | null;
  updated_at: number;
  updated_by: string | null;
}

/** `cluster_slots` (0005): connection slots per site held by nodes until `expires_at`. */
export interface ClusterSlotsTable {
  site: string;
  slot: number;
  holder: string;
  expires_at: number;
}

/** `cluster_rate` (0005): sends per site in the fixed window starting at `window_start`. */
export interface ClusterRateTable {
  site: string;
  window_start: number;
  used: number;
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

/** `config_objects` (0011): versioned configuration objects; a delete leaves a tombstone. */
export interface ConfigObjectsTable {
  kind: string;
  id: string;
  version: number;
  /** The object as JSON. */
  body: string;
  /** 1 for a tombstone (deleted object). */
  deleted: number;
  updated_at: number;
  updated_by: string;
}

/** `config_audit` (0011): one row per change of a config object or queue action. */
export interface ConfigAuditTable {
  id: Generated<number>;
  at: number;
  actor: string;
  role: string;
  channel: string;
  kind: string;
  object_id: string;
  action: string;
  /** JSON, null when the object did not exist before (create) */
  before_body: string | null;
  /** JSON, null when the object does not exist after (delete) */
  after_body: string | null;
  /** The cluster config version the change produced; 0 for entries that change no config. */
  config_version: Generated<number>;
}

/** `config_version` (0011): named monotonic counters (`objects`). */
export interface ConfigVersionTable {
  name: string;
  version: number;
}

/** `pauses` (0016): cluster-wide holds; every criterion that is set must match a unit. */
export interface PausesTable {
  id: string;
  /** "vmta" or "pool" (with `source`), or null for any source. */
  source_kind: string | null;
  source: string | null;
  domain: string | null;
  tag: string | null;
  /** An MX host of the destination site, or *.domain (0019). */
  site: Generated<string | null>;
  /** When the pause ends by itself; null: until removed. */
  ends_at: number | null;
  reason: string | null;
  created_by: string;
  created_at: number;
}

/** `queue_jobs` (0016): bulk queue actions by filter, processed in keyset chunks. */
export interface QueueJobsTable {
  id: string;
  action: string;
  filter_json: string;
  /** running, done, failed */
  state: string;
  total: number;
  /** Units looked at so far. */
  done: Generated<number>;
  /** Units the action changed so far. */
  changed: Generated<number>;
  /** The last unit id done (the keyset cursor); null before the first chunk. */
  last_id: string | null;
  error: string | null;
  created_by: string;
  created_at: number;
  updated_at: number;
}

/** The whole database, for Kysely. */
export interface Tables {
  messages: MessagesTable;
  queue: QueueTable;
  recipients: RecipientsTable;
  recipient_totals: RecipientTotalsTable;
  attempts: AttemptsTable;
  smtp_users: SmtpUsersTable;
  shaping_rules: ShapingRulesTable;
  suppression_entries: SuppressionEntriesTable;
  sending_domains: SendingDomainsTable;
  bounce_reports: BounceReportsTable;
  cluster_secrets: ClusterSecretsTable;
  dkim_keys: DkimKeysTable;
  admin_users: AdminUsersTable;
  admin_sessions: AdminSessionsTable;
  api_keys: ApiKeysTable;
  nodes: NodesTable;
  config_overrides: ConfigOverridesTable;
  cluster_slots: ClusterSlotsTable;
  cluster_rate: ClusterRateTable;
  outbox: OutboxTable;
  config_objects: ConfigObjectsTable;
  config_audit: ConfigAuditTable;
  config_version: ConfigVersionTable;
  pauses: PausesTable;
  queue_jobs: QueueJobsTable;
  webhooks: WebhooksTable;
  webhook_outbox: WebhookOutboxTable;
  webhook_dead_letters: WebhookDeadLettersTable;
  webhook_attempts: WebhookAttemptsTable;
}
