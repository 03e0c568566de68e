/** `GET /api/v1/nodes[?all]`: the cluster's nodes with heartbeat and liveness (live ones first). */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { NodesQuery, NodesSchema } from "../../core/api/schemas.ts";
import type { Config } from "../../core/config/mod.ts";
import { nodeDocument } from "../../core/manage/api_documents.ts";
import { apiRoute, apiRouter, jsonResponse, problemResponse, READERS } from "../_api.ts";
import type { AdminContext, AdminEnv } from "../_context.ts";
import { ApiProblem } from "../_problem.ts";

const nodesRoute = apiRoute({
  method: "get",
  path: "/nodes",
  summary: "The cluster's nodes: heartbeat, liveness, applied config version",
  tags: ["cluster"],
  roles: READERS,
  request: { query: NodesQuery },
  responses: {
    200: jsonResponse(NodesSchema, "This node's id and the nodes, live ones first"),
    503: problemResponse("No cluster view on this server"),
  },
});

/** Node API. */
export function nodeApi(
  ctx: Pick<AdminContext, "cluster"> & { config: Pick<Config, "nodeId"> },
): OpenAPIHono<AdminEnv> {
  const app = apiRouter();
  app.openapi(nodesRoute, async (c) => {
    if (!ctx.cluster) throw new ApiProblem(503, "Cluster view not available");
    const { all } = c.req.valid("query");
    const nodes = await ctx.cluster.nodes();
    return c.json({
      self: ctx.config.nodeId,
      nodes: (all ? nodes : nodes.filter((n) => n.live)).map(nodeDocument),
    }, 200);
  });
  return app;
}
