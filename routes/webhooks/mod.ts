/**
 * `/api/v1/webhooks`: the REST face of the webhook service (core/manage/webhooks.ts; docs/
 * webhooks.md): the CRUD routes of the factory (routes/_crud.ts: ETag, If-Match, cursor pages)
 * plus `GET …/{id}/deliveries`, `GET …/{id}/dead-letters` and `POST …/{id}/replay`. Reading
 * takes any role but sender; changing and replaying take admin. Errors are the service's, as
 * problem details (400 naming each field, 404, 409, 412).
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { IdParams } from "../../core/api/schemas.ts";
import { webhookInputSchema, type WebhookService } from "../../core/manage/webhooks.ts";
import { ADMINS, apiRoute, apiRouter, jsonResponse, READERS } from "../_api.ts";
import type { AdminEnv } from "../_context.ts";
import { crudRoutes } from "../_crud.ts";

const LimitQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1_000).optional().meta({ description: "Rows" }),
});

const deliveriesRoute = apiRoute({
  method: "get",
  path: "/webhooks/{id}/deliveries",
  summary: "A webhook's delivery status and its last POSTs, newest first",
  tags: ["webhooks"],
  roles: READERS,
  request: { params: IdParams, query: LimitQuery },
  responses: { 200: jsonResponse(z.object({}).passthrough(), "Status and POSTs") },
});

const deadLettersRoute = apiRoute({
  method: "get",
  path: "/webhooks/{id}/dead-letters",
  summary: "Batches given up after events.webhooks.max_age, newest first",
  tags: ["webhooks"],
  roles: READERS,
  request: {
    params: IdParams,
    query: LimitQuery.extend({
      events: z.enum(["true", "false"]).optional().meta({ description: "Include the events" }),
    }),
  },
  responses: { 200: jsonResponse(z.object({}).passthrough(), "The dead letters (`items`)") },
});

const ReplayBody = z.object({
  ids: z.array(z.number().int().min(1)).optional().meta({
    description: "Only these dead letters (default: every one not replayed yet)",
  }),
}).strict();

const replayRoute = apiRoute({
  method: "post",
  path: "/webhooks/{id}/replay",
  summary: "Post dead letters again (their events go back to the webhook's outbox)",
  tags: ["webhooks"],
  roles: ADMINS,
  request: {
    params: IdParams,
    body: { content: { "application/json": { schema: ReplayBody } }, required: false },
  },
  responses: { 200: jsonResponse(z.object({ replayed_events: z.number() }), "Events replayed") },
});

/** Webhook API; 503 where the service is not served (route tests without it). */
export function webhookApi(ctx: { webhooks?: WebhookService }): OpenAPIHono<AdminEnv> {
  const app = apiRouter();
  const service = ctx.webhooks;
  if (!service) return app;
  app.route(
    "/",
    crudRoutes({
      path: "webhooks",
      name: "Webhook",
      service: service as unknown as Parameters<typeof crudRoutes>[0]["service"],
      body: webhookInputSchema,
      writeRoles: ADMINS,
    }),
  );
  app.openapi(deliveriesRoute, async (c) => {
    const { id } = c.req.valid("param");
    return c.json(await service.deliveries(id, c.var.actor!, c.req.valid("query").limit), 200);
  });
  app.openapi(deadLettersRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { limit, events } = c.req.valid("query");
    const items = await service.deadLetters(id, c.var.actor!, {
      limit,
      includeEvents: events === "true",
    });
    return c.json({ items }, 200);
  });
  app.openapi(replayRoute, async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.header("content-length") === "0" || !c.req.header("content-type")
      ? {}
      : c.req.valid("json");
    return c.json(await service.replay(id, c.var.actor!, body.ids), 200);
  });
  return app;
}
