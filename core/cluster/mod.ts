/**
 * The cluster side of a node: its row and heartbeat in the shared database (nodes.ts), the live
 * configuration kept in step with the stored overrides (config_sync.ts), and the cluster-wide
 * shaping hook for delivery (shaping.ts). A single node runs the same code: its cluster has one
 * member and shaping is local.
 *
 * Talks to: the store, RabbitMQ (config events). Reads config: id, name, cluster.*, rabbitmq.
 */
import type { Config } from "../config/mod.ts";
import type { NodeStore, OverrideStore } from "../store/mod.ts";
import { ConfigSync } from "./config_sync.ts";
import { listNodes, type NodeDetails, NodeRegistry, type NodeStatus } from "./nodes.ts";

export type { NodeDetails, NodeStatus } from "./nodes.ts";
export type { ClusterShaper, SendGrant, SiteSlot } from "./shaping.ts";
export { isLiveSetting, LIVE_SETTINGS } from "./live.ts";

/** What the admin routes read from the cluster. */
export interface ClusterView {
  nodes(): Promise<NodeStatus[]>;
}

/** Options for {@link startCluster}. */
export interface StartClusterOptions {
  log: (line: string) => void;
  /** What this node reports in its heartbeat (called on every beat). */
  details: (configVersion: number) => NodeDetails;
  /** Live settings changed: the config object was updated in place; tell the workers. */
  onConfigChange: (config: Config, changed: string[]) => void;
}

/** A running cluster membership. */
export interface Cluster extends ClusterView {
  /** Seed + environment + stored overrides: the config this node runs with. */
  readonly config: Config;
  readonly configSync: ConfigSync;
  /** Writes a heartbeat now (e.g. right after a config change was applied). */
  beat(): Promise<void>;
  /** Marks the node stopped and stops listening for config changes. */
  stop(): Promise<void>;
}

/** Lists nodes from any store connection (for the CLI). */
export function nodesOf(
  store: Pick<NodeStore, "listNodeRecords">,
  config: Config,
): Promise<NodeStatus[]> {
  return listNodes(store, {
    now: Date.now(),
    timeoutMs: config.cluster.node_timeout,
  });
}

/**
 * Joins the cluster: resolves the effective config (with stored overrides), registers the node,
 * starts its heartbeat and the config subscription.
 */
export async function startCluster(
  seed: Config,
  store: NodeStore & OverrideStore,
  options: StartClusterOptions,
): Promise<Cluster> {
  const configSync = new ConfigSync(store, seed, {
    log: (line) => options.log(line),
    onChange: options.onConfigChange,
  });
  const config = await configSync.effectiveConfig();
  const registry = new NodeRegistry(store, {
    id: config.nodeId,
    name: config.nodeName,
    intervalMs: config.cluster.heartbeat_interval,
    timeoutMs: config.cluster.node_timeout,
  }, { details: () => options.details(configSync.version), log: options.log });
  await registry.start();
  await configSync.start();
  return {
    config,
    configSync,
    nodes: () => nodesOf(store, config),
    beat: () => registry.beat(),
    async stop() {
      await configSync.stop();
      await registry.stop();
    },
  };
}

export { openShaper, sharedShaping } from "./open_shaper.ts";
