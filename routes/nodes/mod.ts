/** `GET /api/v1/nodes[?all]`: the cluster's nodes with heartbeat and liveness (live ones first). */
import { Hono } from "hono";
import { type ErrorBody, type NodesBody, NodesQuery } from "../../core/api/schemas.ts";
import type { Config } from "../../core/config/mod.ts";
import type { AdminContext, AdminEnv } from "../_context.ts";

const NO_CLUSTER: ErrorBody = { error: "Cluster view not available" };

/** Node API (behind the API access check). */
export function nodeApi(
  ctx: Pick<AdminContext, "cluster"> & { config: Pick<Config, "nodeId"> },
): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.get("/nodes", async (c) => {
    if (!ctx.cluster) return c.json(NO_CLUSTER, 503);
    const { all } = NodesQuery.parse(c.req.query());
    const nodes = await ctx.cluster.nodes();
    const body: NodesBody = {
      self: ctx.config.nodeId,
      nodes: all ? nodes : nodes.filter((n) => n.live),
    };
    return c.json(body);
  });
  return app;
}
