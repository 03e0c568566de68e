/**
 * Chooses the cluster shaping hook for a delivery worker. Kept apart from cluster/mod.ts so the
 * worker does not load the cluster's config sync (and with it the configuration schemas).
 */
import type { Config } from "../config/mod.ts";
import type { ClusterLimitStore } from "../store/mod.ts";
import { type ClusterShaper, LocalShaper, SqlShaper } from "./shaping.ts";

/** Whether cluster-wide limits are kept in the shared database (else per node, in memory). */
export function sharedShaping(config: Config): boolean {
  return config.rabbitmq !== undefined && config.database.driver !== "sqlite3";
}

/**
 * The shaping hook for one delivery worker (`owner`, e.g. "delivery-0"): cluster-wide limits
 * (`cluster_max_connections`, `cluster_message_rate`) in the shared database when the node is
 * part of a cluster (RabbitMQ configured) on a database server; otherwise in memory, which is
 * exact for one node (a node's sites are each delivered by one of its workers).
 */
export function openShaper(
  config: Config,
  store: ClusterLimitStore,
  owner: string,
  log: (line: string) => void = () => {},
): ClusterShaper {
  if (sharedShaping(config)) {
    return new SqlShaper(store, { owner: `${config.nodeId}:${owner}`, log });
  }
  if (config.rabbitmq) {
    const rules = Object.values(config.delivery.shaping);
    if (rules.some((r) => r.cluster_max_connections || r.cluster_message_rate)) {
      log(
        "cluster-wide shaping limits hold per node: the database is SQLite, not a server the " +
          "nodes share",
      );
    }
  }
  return new LocalShaper();
}
