/**
 * Row shapes of who may use fastmta: SMTP AUTH users, console users and their sessions, API keys.
 * Part of the database schema type (tables.ts); see migrations/ for the DDL.
 */

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
