/**
 * The store interface every caller uses. Dialects live underneath (see sql_store.ts and mod.ts);
 * nothing above this file knows which database runs.
 */
import type { LeasedUnit, NewMessage, UnitOutcome } from "../queue/contracts.ts";
import type { RecipientState } from "./tables.ts";
import type { StoreHealthStatus } from "./health.ts";
import type { SqlQuarantine } from "./quarantine.ts";

export type { StoreHealthStatus } from "./health.ts";

/** Pool settings shared by the client/server SQL dialects. */
export interface PoolOptions {
  /** Most open connections. */
  max: number;
  /** Shown to the server (`application_name`, connection attributes). */
  applicationName: string;
}

/** A request to lease due delivery units. */
export interface LeaseRequest {
  owner: string;
  token: string;
  now: number;
  leaseMs: number;
  limit: number;
}

/** How `settle` recognises the outcome that owns a unit. */
export interface SettleOptions {
  /**
   * Claim by copy number instead of lease token (the broker queue, core/queue/rabbitmq.ts): an
   * outcome settles its unit only if the unit's `copy_seq` is still `claim(outcome)`, and moves
   * it on by one; an attempted (not held) outcome also counts the attempt.
   */
  claim?: (outcome: UnitOutcome) => number;
  /** Recorded with each attempt: the node that made it (unless the outcome names one). */
  nodeId?: string;
}

/** How `insertMessages` marks the rows it writes. */
export interface InsertOptions {
  /**
   * The broker queue (core/queue/rabbitmq.ts): mark the messages as not yet confirmed by the
   * broker, since this time (`messages.unconfirmed_since`). Without it they count as confirmed.
   */
  unconfirmedSince?: number;
}

/** Recipient counts by state, plus units currently leased. */
export type QueueCounts = Record<RecipientState, number> & { in_flight_units: number };

/** One message with its recipients and delivery log. */
export interface MessageStatus {
  id: string;
  sender: string;
  createdAt: number;
  size: number;
  channel: string;
  recipients: {
    address: string;
    state: RecipientState;
    attempts: number;
    last_code: number | null;
    last_reply: string | null;
  }[];
  attempts: {
    at: number;
    recipient: string;
    outcome: string;
    code: number | null;
    reply: string | null;
    source_ip: string | null;
    mx_host: string | null;
    remote_ip: string | null;
    tls: number;
    tls_version: string | null;
    tls_verified: number;
    duration_ms: number;
    reason: string | null;
    site: string | null;
    pool: string | null;
    node_id: string | null;
  }[];
}

/** One schema migration and when it was applied here (epoch ms), or null while pending. */
export interface MigrationState {
  name: string;
  appliedAt: number | null;
}

/** An SMTP AUTH account (see migrations/0002_smtp_users.ts). */
export interface SmtpUser {
  username: string;
  /** KDF hash string (core/auth/password.ts). */
  passwordHash: string;
  /** The password sealed with AES-GCM for CRAM-MD5, or null. */
  cramSecret: string | null;
  /** Per-user limits; null takes the configured default. */
  maxRecipients: number | null;
  maxMessagesPerMinute: number | null;
  createdAt: number;
  updatedAt: number;
}

/** Fields to change on an SMTP user; undefined leaves a field as it is. */
export interface SmtpUserUpdate {
  passwordHash?: string;
  cramSecret?: string | null;
  maxRecipients?: number | null;
  maxMessagesPerMinute?: number | null;
  updatedAt: number;
}

/** A REST API key as stored: its SHA-256, never the key (see migrations/0008_api_keys.ts). */
export interface ApiKeyRecord {
  name: string;
  /** SHA-256 of the key, lower-case hex. */
  keyHash: string;
  createdAt: number;
  /** When it last authenticated a request (to the minute), or null. */
  lastUsedAt: number | null;
}

/** A stored shaping rule (see migrations/0003_delivery.ts). */
export interface ShapingRuleRow {
  pattern: string;
  /** The rule object as stored (validated by core/delivery/policy.ts when applied). */
  rule: unknown;
  updatedAt: number;
}

/** An address on the suppression list. Addresses are kept lower-cased. */
export interface Suppression {
  address: string;
  category: string;
  code: number | null;
  reason: string | null;
  messageId: string | null;
  createdAt: number;
  expiresAt: number;
}

/** A recipient whose delivery status notification is due, with what the report needs. */
export interface DsnRecipientRow {
  id: number;
  address: string;
  state: RecipientState;
  code: number | null;
  reply: string | null;
  category: string | null;
  updatedAt: number;
  /** Host and address of the last attempt that reached a server, if any. */
  mxHost: string | null;
  remoteIp: string | null;
}

/** One message's recipients claimed for a DSN. */
export interface DsnWork {
  messageId: string;
  sender: string;
  channel: string;
  createdAt: number;
  meta: Record<string, unknown> | null;
  recipients: DsnRecipientRow[];
}

/** A request to claim due DSNs (see `Store.claimDsns`). */
export interface DsnClaim {
  /** Written into `recipients.dsn` while this claimer builds the reports. */
  token: string;
  /** Only these messages (the ones a worker just settled); all when absent. */
  messageIds?: string[];
  limit: number;
}

/** A DKIM signing key as stored; `privateKey` is sealed (core/dkim/keys.ts). */
export interface DkimKeyRecord {
  domain: string;
  selector: string;
  algorithm: string;
  privateKey: string;
  publicKey: string;
  createdAt: number;
}

/** One row of the message list. */
export interface MessageSummary {
  id: string;
  sender: string;
  createdAt: number;
  size: number;
  recipients: number;
  /** Recipients not yet delivered or failed. */
  pending: number;
  failed: number;
}

/** One row of the delivery log. */
export interface AttemptRow {
  at: number;
  messageId: string;
  recipient: string;
  outcome: string;
  code: number | null;
  reply: string | null;
  sourceIp: string | null;
  mxHost: string | null;
  durationMs: number;
}

/** Durable state: messages, the delivery queue, the delivery log. */
export interface Store {
  /** Handling failures and quarantined units (core/store/quarantine.ts). */
  readonly quarantine: SqlQuarantine;
  /** Applies pending migrations; returns the names applied now. Safe to run concurrently. */
  migrate(): Promise<string[]>;
  /** Every known migration, applied or pending, in order. */
  migrationStatus(): Promise<MigrationState[]>;
  /** Whether the database answers (see health.ts); never touches the database. */
  health(): StoreHealthStatus;
  /** The largest message body the database can store, or null when it has no such limit. */
  maxBodyBytes(): Promise<number | null>;
  /** Makes a batch of accepted messages durable in one transaction (group commit). */
  insertMessages(messages: NewMessage[], options?: InsertOptions): Promise<void>;
  /** Claims up to `limit` due units for `leaseMs`. */
  leaseDue(request: LeaseRequest): Promise<LeasedUnit[]>;
  /** Records outcomes in one transaction; returns how many had lost their lease. */
  settle(outcomes: UnitOutcome[], options?: SettleOptions): Promise<number>;
  /** Makes units leased by `owner` (a previous run of this node) due now. */
  releaseLeases(owner: string, now: number): Promise<number>;
  /** The earliest due time in the queue, or null when it is empty. */
  nextDueAt(): Promise<number | null>;
  /** The raw message bytes. */
  readBody(messageId: string): Promise<Uint8Array | null>;
  /**
   * The first `maxBytes` of a message and its full size: enough for the header section of most
   * messages, without holding a large body in memory (null if the message is gone).
   */
  readBodyHead(
    messageId: string,
    maxBytes: number,
  ): Promise<{ head: Uint8Array; size: number } | null>;
  /** Recipient counts by state. */
  counts(now: number): Promise<QueueCounts>;
  /** A message's recipients and attempts, or null if unknown. */
  messageStatus(messageId: string): Promise<MessageStatus | null>;
  /** Adds an SMTP user; rejects if the name is taken. */
  addSmtpUser(user: SmtpUser): Promise<void>;
  /** One SMTP user, or null. */
  getSmtpUser(username: string): Promise<SmtpUser | null>;
  /** All SMTP users, by name. */
  listSmtpUsers(): Promise<SmtpUser[]>;
  /** Changes an SMTP user; false if there is none. */
  updateSmtpUser(username: string, update: SmtpUserUpdate): Promise<boolean>;
  /** Removes an SMTP user; false if there was none. */
  removeSmtpUser(username: string): Promise<boolean>;
  /** Adds an API key; rejects if the name is taken. */
  addApiKey(key: ApiKeyRecord): Promise<void>;
  /** The key with this hash, or null. */
  apiKeyByHash(keyHash: string): Promise<ApiKeyRecord | null>;
  /** Records that a key was used at `at`. */
  touchApiKey(name: string, at: number): Promise<void>;
  /** All API keys, by name. */
  listApiKeys(): Promise<ApiKeyRecord[]>;
  /** Removes an API key; false if there was none. */
  removeApiKey(name: string): Promise<boolean>;
  /** Stored shaping rules, by pattern. */
  listShapingRules(): Promise<ShapingRuleRow[]>;
  /** Creates or replaces the stored rule for `pattern`. */
  putShapingRule(pattern: string, rule: unknown, now: number): Promise<void>;
  /** Deletes the stored rule for `pattern`; false when there was none. */
  deleteShapingRule(pattern: string): Promise<boolean>;
  /** Makes units held for `reason` (e.g. "paused") due at `now`; returns how many. */
  releaseHeld(reason: string, now: number): Promise<number>;
  /** Messages delivered per source IP since `since` (seeds the daily caps of IP warm-up). */
  deliveredSince(since: number): Promise<{ sourceIp: string; count: number }[]>;
  /** The active suppressions among `addresses` (compared lower-cased). */
  suppressions(addresses: string[], now: number): Promise<Suppression[]>;
  /** Adds or replaces suppressions. */
  addSuppressions(entries: Suppression[]): Promise<void>;
  /** Removes one address from the list; false when it was not there. */
  removeSuppression(address: string): Promise<boolean>;
  /** Active suppressions, newest first. */
  listSuppressions(now: number, limit: number): Promise<Suppression[]>;
  /** Claims recipients whose DSN is pending (atomically: concurrent claimers get disjoint sets). */
  claimDsns(claim: DsnClaim): Promise<DsnWork[]>;
  /** Marks claimed recipients' DSN as sent or skipped. */
  finishDsns(recipientIds: number[], state: "sent" | "skipped"): Promise<void>;
  /** Returns claims whose token starts with `tokenPrefix` (a claimer that died) to pending. */
  releaseDsnClaims(tokenPrefix: string): Promise<number>;
  /** Every DKIM key. */
  dkimKeys(): Promise<DkimKeyRecord[]>;
  /** Stores a new DKIM key; fails if (domain, selector) exists. */
  addDkimKey(key: DkimKeyRecord): Promise<void>;
  /** Removes a DKIM key; false when there was none. */
  removeDkimKey(domain: string, selector: string): Promise<boolean>;
  /** Newest messages first; `before` (a message id) pages backwards. */
  listMessages(options: { limit: number; before?: string }): Promise<MessageSummary[]>;
  /** Newest delivery attempts first. */
  recentAttempts(options: { limit: number }): Promise<AttemptRow[]>;
  close(): Promise<void>;
}
