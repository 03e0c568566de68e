/**
 * `GET /api/v1/activity`: what the dashboard charts (core/store/activity.ts) with the queue
 * counts of now, one request per refresh of the chart island.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { type ActivityBody, ActivityQuery, ActivitySchema } from "../../core/api/activity.ts";
import { newQueueId } from "../../core/accept/queue_id.ts";
import type { ActivityStore } from "../../core/store/mod.ts";
import { apiRoute, apiRouter, jsonResponse, READERS } from "../_api.ts";
import type { AdminEnv, AdminViewStore } from "../_context.ts";

/** What the activity route reads. */
export type ActivityContext = { store: Pick<AdminViewStore, "counts"> & ActivityStore };

const activityRoute = apiRoute({
  method: "get",
  path: "/activity",
  summary: "Per minute: accepted, delivered, deferred, bounced, latency; queue counts now",
  tags: ["queue"],
  roles: READERS,
  request: { query: ActivityQuery },
  responses: { 200: jsonResponse(ActivitySchema, "The series of the last minutes") },
});

/** The series of the last `minutes` and the counts now. */
export async function activityOf(ctx: ActivityContext, minutes: number): Promise<ActivityBody> {
  const now = Date.now();
  const since = now - minutes * 60_000;
  // Queue ids start with their time (9 characters): every id of the window sorts after this.
  const sinceId = newQueueId(since).slice(0, 9);
  const [series, queue] = await Promise.all([
    ctx.store.activitySince(since, sinceId),
    ctx.store.counts(now),
  ]);
  return { at: now, minutes: series, queue };
}

/** Activity API. */
export function activityApi(ctx: ActivityContext): OpenAPIHono<AdminEnv> {
  const app = apiRouter();
  app.openapi(activityRoute, async (c) => {
    const { minutes } = c.req.valid("query");
    return c.json(await activityOf(ctx, minutes), 200);
  });
  return app;
}
