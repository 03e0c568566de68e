/**
 * `GET /api/v1/queue`: recipient counts by state and units in flight; `GET /api/v1/queue/by/{by}`:
 * open units by domain, pool or vmta, by state, with the pause on each row (the queue page's tabs).
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { QueueCountsSchema } from "../../core/api/schemas.ts";
import { QueueViewParams, QueueViewQuery, QueueViewSchema } from "../../core/api/queue_views.ts";
import type { QueueService } from "../../core/manage/queue_service.ts";
import { queueView } from "../../core/manage/queue_views.ts";
import type { QueueSummaryStore } from "../../core/store/mod.ts";
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

const viewRoute = apiRoute({
  method: "get",
  path: "/queue/by/{by}",
  summary: "Open units by destination domain, pool or vmta, by state, with each row's pause",
  tags: ["queue"],
  roles: READERS,
  request: { params: QueueViewParams, query: QueueViewQuery },
  responses: { 200: jsonResponse(QueueViewSchema, "The busiest rows first") },
});

/** Queue API. */
export function queueApi(ctx: {
  store: Pick<AdminViewStore, "counts"> & QueueSummaryStore;
  queueOps?: Pick<QueueService, "listPauses">;
}): OpenAPIHono<AdminEnv> {
  const app = apiRouter();
  app.openapi(countsRoute, async (c) => c.json(await ctx.store.counts(Date.now()), 200));
  app.openapi(viewRoute, async (c) => {
    const { by } = c.req.valid("param");
    const { limit } = c.req.valid("query");
    const pauses = ctx.queueOps ? await ctx.queueOps.listPauses(c.var.actor!) : [];
    return c.json(await queueView(ctx.store, pauses, by, limit), 200);
  });
  return app;
}
