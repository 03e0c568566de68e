/** `GET /api/v1/nodes[?all]`: the cluster's nodes with heartbeat and liveness (live ones first). */
import { Hono } from "hono";
import type { AdminEnv } from "../_auth.ts";

/** Node API routes. */
export function nodesApi(): Hono<AdminEnv> {
  const api = new Hono<AdminEnv>();
  api.get("/", async (c) => {
    const { cluster, config } = c.var.ctx;
    if (!cluster) return c.json({ error: "Cluster view not available" }, 503);
    const all = c.req.query("all") !== undefined;
    const nodes = await cluster.nodes();
    return c.json({ self: config.nodeId, nodes: all ? nodes : nodes.filter((n) => n.live) });
  });
  return api;
}
