/**
 * Row shapes of what governs sending: shaping rules, the suppression list, sending domains and
 * their DKIM keys, pauses, and bulk queue jobs. Part of the database schema type (tables.ts); see
 * migrations/ for the DDL.
 */
import type { Generated } from "kysely";

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
