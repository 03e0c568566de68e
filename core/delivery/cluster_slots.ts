/**
 * Asking for one of a site's cluster-wide connection slots (`cluster_max_connections`, held in
 * the cluster shaper: core/cluster/shaping.ts) before a path opens a new connection.
 *
 * Reads config: delivery.max_hold.
 */
import type { Config } from "../config/mod.ts";
import type { ClusterShaper, SiteSlot } from "../cluster/shaping.ts";
import { type EgressPath, satisfies, type TlsNeeds } from "./egress_path.ts";
import { sleep } from "./limits.ts";

/** How often a delivery asks again for a cluster slot while it may wait (`max_hold`). */
const CLUSTER_POLL_MS = 200;

/** A slot; or none, with whether an idle connection of the path came free meanwhile. */
export type AskedSlot = { slot: SiteSlot } | { slot: null; idle: boolean; why: string };

/** What {@link askClusterSlot} needs besides the path. */
export interface AskSlotOptions {
  shaper: ClusterShaper;
  config: Config;
  /** The site's slot count. */
  limit: number;
  /** The TLS needs of the delivery asking (an idle connection meeting them ends the wait). */
  tls: TlsNeeds;
  /** Called if the slot is lost later (the cluster shaper's TTL ran out). */
  onLost: () => void;
}

/**
 * Asks for one of the site's `limit` cluster slots, again every CLUSTER_POLL_MS within
 * `delivery.max_hold` (one delivery per path asks; the others wait behind it) unless an idle
 * connection the delivery can use turns up. When no slot comes free, the path stops asking
 * for a moment so that its waiters are held at once.
 */
export async function askClusterSlot(
  path: EgressPath,
  options: AskSlotOptions,
): Promise<AskedSlot> {
  const { shaper, limit, tls, onLost } = options;
  path.clusterAsking = true;
  const deadline = Date.now() + options.config.delivery.max_hold;
  try {
    while (true) {
      const slot = await shaper.acquireConnection(path.site, limit, onLost);
      if (slot) return { slot };
      if (path.idle.some((p) => !p.conn.closed && satisfies(p, tls))) {
        return { slot: null, idle: true, why: "" };
      }
      if (Date.now() + CLUSTER_POLL_MS > deadline) break;
      await sleep(CLUSTER_POLL_MS);
    }
    path.clusterFullUntil = Date.now() + CLUSTER_POLL_MS;
    return {
      slot: null,
      idle: false,
      why: `${path.site}: all ${limit} cluster connection slots taken`,
    };
  } catch (error) {
    path.clusterFullUntil = Date.now() + CLUSTER_POLL_MS;
    return {
      slot: null,
      idle: false,
      why: `cannot take a cluster connection slot for ${path.site}: ${(error as Error).message}`,
    };
  } finally {
    path.clusterAsking = false;
  }
}
