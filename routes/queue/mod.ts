/** `GET /api/v1/queue`: recipient counts by state and units in flight. */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { QueueCountsSchema } from "../../core/api/schemas.ts";
import { apiRoute, apiRouter, jsonResponse, READERS } from "../_api.ts";
import type { AdminEnv, AdminViewStore } from "../_context.ts";

const countsRoute = apiRoute({
  method: "get",
  path: "/queue",
  summary: "Recipient counts by state, and units in flight",
  tags: ["queue"],
  roles: READERS,
  responses: { 200: jsonResponse(QueueCountsSchema, "The counts") },
});

/** Queue API. */
export function queueApi(ctx: { store: Pick<AdminViewStore, "counts"> }): OpenAPIHono<AdminEnv> {
  const app = apiRouter();
  app.openapi(countsRoute, async (c) => c.json(await ctx.store.counts(Date.now()), 200));
  return app;
}
