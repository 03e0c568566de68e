/**
 * The store interface every caller uses. Dialects live underneath (see sql_store.ts and mod.ts);
 * nothing above this file knows which database runs.
 */
import type { LeasedUnit, NewMessage, UnitOutcome } from "../queue/contracts.ts";
import type { RecipientState } from "./tables.ts";
import type { StoreHealthStatus } from "./health.ts";

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
  }[];
}

/** One schema migration and when it was applied here (epoch ms), or null while pending. */
export interface MigrationState {
  name: string;
  appliedAt: number | null;
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
  /** Applies pending migrations; returns the names applied now. Safe to run concurrently. */
  migrate(): Promise<string[]>;
  /** Every known migration, applied or pending, in order. */
  migrationStatus(): Promise<MigrationState[]>;
  /** Whether the database answers (see health.ts); never touches the database. */
  health(): StoreHealthStatus;
  /** The largest message body the database can store, or null when it has no such limit. */
  maxBodyBytes(): Promise<number | null>;
  /** Makes a batch of accepted messages durable in one transaction (group commit). */
  insertMessages(messages: NewMessage[]): Promise<void>;
  /** Claims up to `limit` due units for `leaseMs`. */
  leaseDue(request: LeaseRequest): Promise<LeasedUnit[]>;
  /** Records outcomes in one transaction; returns how many had lost their lease. */
  settle(outcomes: UnitOutcome[]): Promise<number>;
  /** Makes units leased by `owner` (a previous run of this node) due now. */
  releaseLeases(owner: string, now: number): Promise<number>;
  /** The earliest due time in the queue, or null when it is empty. */
  nextDueAt(): Promise<number | null>;
  /** The raw message bytes. */
  readBody(messageId: string): Promise<Uint8Array | null>;
  /** Recipient counts by state. */
  counts(now: number): Promise<QueueCounts>;
  /** A message's recipients and attempts, or null if unknown. */
  messageStatus(messageId: string): Promise<MessageStatus | null>;
  /** Newest messages first; `before` (a message id) pages backwards. */
  listMessages(options: { limit: number; before?: string }): Promise<MessageSummary[]>;
  /** Newest delivery attempts first. */
  recentAttempts(options: { limit: number }): Promise<AttemptRow[]>;
  close(): Promise<void>;
}
