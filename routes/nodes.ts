/** `GET /api/v1/nodes`: the cluster's nodes with their heartbeat and liveness (live first). */
import { Hono } from "hono";
import type { AdminContext } from "./mod.ts";

/** Routes under /api/v1/nodes. */
export function nodeRoutes(ctx: AdminContext): Hono {
  const app = new Hono();
  app.get("/", async (c) => {
    if (!ctx.cluster) return c.json({ error: "Cluster view not available" }, 503);
    const all = c.req.query("all") !== undefined;
    const nodes = await ctx.cluster.nodes();
    return c.json({ self: ctx.config.nodeId, nodes: all ? nodes : nodes.filter((n) => n.live) });
  });
  return app;
}
