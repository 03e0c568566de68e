/**
 * Row shapes of the cluster: nodes, shared secrets, connection slots and rate windows, config
 * overrides, and the versioned, audited configuration objects. Part of the database schema type
 * (tables.ts); see migrations/ for the DDL.
 */
import type { Generated } from "kysely";

/** `cluster_secrets` (0013): secrets every node shares (base64url). */
export interface ClusterSecretsTable {
  name: string;
  secret: string;
  created_at: number;
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
