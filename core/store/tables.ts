/** Row shapes of the SQL tables, as Kysely sees them (see migrations/ for the DDL). */
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
}

/** `queue`: delivery units (message × destination domain). */
export interface QueueTable {
  id: string;
  message_id: string;
  domain: string;
  state: "queued" | "done";
  due_at: number;
  attempts: number;
  lease_owner: string | null;
  lease_token: string | null;
  created_at: number;
  updated_at: number;
  last_reply: string | null;
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
}

/** Where a recipient stands. */
export type RecipientState = "queued" | "deferred" | "delivered" | "failed";

/** `attempts`: the delivery log, one row per recipient per attempt. */
export interface AttemptsTable {
  id: Generated<number>;
  at: number;
  message_id: string;
  unit_id: string;
  recipient: string;
  domain: string;
  outcome: "delivered" | "deferred" | "failed";
  code: number | null;
  reply: string | null;
  source_ip: string | null;
  mx_host: string | null;
  remote_ip: string | null;
  tls: number;
  duration_ms: number;
  node_id: string | null;
}

/** `admin_users`: console users. */
export interface AdminUsersTable {
  username: string;
  password_hash: string;
  created_at: number;
}

/** `admin_sessions`: console sessions, keyed by the hash of the cookie token. */
export interface AdminSessionsTable {
  token_hash: string;
  username: string;
  csrf_token: string;
  created_at: number;
  expires_at: number;
}

/** The whole database, for Kysely. */
export interface Tables {
  messages: MessagesTable;
  queue: QueueTable;
  recipients: RecipientsTable;
  attempts: AttemptsTable;
  admin_users: AdminUsersTable;
  admin_sessions: AdminSessionsTable;
}
