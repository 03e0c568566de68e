/** Row shapes of the cluster tables (migrations/0005_cluster.ts), as Kysely sees them. */
import type { Kysely } from "kysely";
import type { SqlStore } from "../store/mod.ts";

/** `nodes`: one row per node. */
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

/** `config_overrides`: cluster-wide edits; `value` is JSON, null for a removed override. */
export interface ConfigOverridesTable {
  key: string;
  value: string | null;
  updated_at: number;
  updated_by: string | null;
}

/** `cluster_slots`: connection slots per site held by nodes until `expires_at`. */
export interface ClusterSlotsTable {
  site: string;
  slot: number;
  holder: string;
  expires_at: number;
}

/** `cluster_rate`: sends per site in the fixed window starting at `window_start`. */
export interface ClusterRateTable {
  site: string;
  window_start: number;
  used: number;
}

/** The cluster tables. */
export interface ClusterTables {
  nodes: NodesTable;
  config_overrides: ConfigOverridesTable;
  cluster_slots: ClusterSlotsTable;
  cluster_rate: ClusterRateTable;
}

/** The store's database seen with the cluster tables (one connection, typed for them). */
export function clusterDb(store: SqlStore): Kysely<ClusterTables> {
  return store.db as unknown as Kysely<ClusterTables>;
}
