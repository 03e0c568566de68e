/**
 * Queue operations on the REST API, thin over core/manage's QueueService (which checks roles,
 * validates, audits): `GET /api/v1/queue/units` (search by query parameters, keyset pages),
 * `POST /api/v1/messages/{id}/retry|bounce|hold` (release and DELETE, i.e. cancel, are in
 * routes/messages), `POST /api/v1/queue/actions` (a bulk action by filter: the count with
 * `dry_run`, else 202 with the job, run in this process in the background) and
 * `GET /api/v1/queue/actions/{id}` (its progress), and `/api/v1/pauses` (list, add, remove).
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { z } from "@hono/zod-openapi";
import {
  ActionResultSchema,
  BulkRequestSchema,
  PauseInputSchema,
  PauseSchema,
  QueueFilterSchema,
  QueueJobSchema,
  QueueSearchSchema,
} from "../../core/api/queue_ops.ts";
import { IdParams } from "../../core/api/schemas.ts";
import { log } from "../../core/log.ts";
import type { QueueService } from "../../core/manage/queue_service.ts";
import { apiRoute, apiRouter, jsonResponse, OPERATORS, READERS } from "../_api.ts";
import type { AdminEnv } from "../_context.ts";

/** Query parameters of a search: the filter's fields, plus the page. */
const SearchQuery = QueueFilterSchema.extend({
  cursor: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

const ReasonBody = z.object({ reason: z.string().max(500).optional() });

const searchRoute = apiRoute({
  method: "get",
  path: "/queue/units",
  summary: "Search delivery units by id, sender, recipient, domain, pool, vmta, tag, state, age",
  tags: ["queue"],
  roles: READERS,
  request: { query: SearchQuery },
  responses: { 200: jsonResponse(QueueSearchSchema, "A page of units, by unit id") },
});

function actionRoute(action: "retry" | "bounce" | "hold", summary: string) {
  return apiRoute({
    method: "post",
    path: `/messages/{id}/${action}`,
    summary,
    tags: ["messages"],
    roles: OPERATORS,
    request: { params: IdParams },
    responses: { 200: jsonResponse(ActionResultSchema, "How many units changed") },
  });
}

const bulkRoute = apiRoute({
  method: "post",
  path: "/queue/actions",
  summary: "An action on every unit a filter selects: the count (dry_run) or a job",
  tags: ["queue"],
  roles: OPERATORS,
  request: { body: { content: { "application/json": { schema: BulkRequestSchema } } } },
  responses: {
    200: jsonResponse(z.object({ total: z.number().int() }), "dry_run: how many units match"),
    202: jsonResponse(QueueJobSchema, "The job, started; GET it for progress"),
  },
});

const jobRoute = apiRoute({
  method: "get",
  path: "/queue/actions/{id}",
  summary: "A bulk job's progress",
  tags: ["queue"],
  roles: READERS,
  request: { params: IdParams },
  responses: { 200: jsonResponse(QueueJobSchema, "The job") },
});

const pausesRoute = apiRoute({
  method: "get",
  path: "/pauses",
  summary: "The stored pauses",
  tags: ["pauses"],
  roles: READERS,
  responses: { 200: jsonResponse(z.object({ items: z.array(PauseSchema) }), "Every pause") },
});

const addPauseRoute = apiRoute({
  method: "post",
  path: "/pauses",
  summary: "Pause by source, domain and tag (held before any DNS lookup, on every node)",
  tags: ["pauses"],
  roles: OPERATORS,
  request: { body: { content: { "application/json": { schema: PauseInputSchema } } } },
  responses: { 201: jsonResponse(PauseSchema, "The pause") },
});

const removePauseRoute = apiRoute({
  method: "delete",
  path: "/pauses/{id}",
  summary: "Remove a pause: what it held is due again",
  tags: ["pauses"],
  roles: OPERATORS,
  request: { params: IdParams },
  responses: { 204: { description: "Removed" } },
});

/** Queue operations API over `service`. */
export function queueOpsApi(service: QueueService): OpenAPIHono<AdminEnv> {
  const app = apiRouter();
  app.openapi(searchRoute, async (c) => {
    const { cursor, limit, ...filter } = c.req.valid("query");
    return c.json(await service.search(c.var.actor!, filter, { cursor, limit }), 200);
  });
  for (
    const [action, summary] of [
      ["retry", "Make a message's waiting units due now"],
      ["bounce", "Fail a message's open recipients now, with a DSN to the sender"],
      ["hold", "Hold a message's units for an operator (release undoes it)"],
    ] as const
  ) {
    app.openapi(actionRoute(action, summary), async (c) => {
      const { id } = c.req.valid("param");
      const body = ReasonBody.safeParse(await c.req.json().catch(() => ({})));
      const reason = body.success ? body.data.reason : undefined;
      return c.json(await service.act(c.var.actor!, id, action, reason), 200);
    });
  }
  app.openapi(bulkRoute, async (c) => {
    const actor = c.var.actor!;
    const { total, job } = await service.bulk(actor, c.req.valid("json"));
    if (!job) return c.json({ total }, 200);
    // The job runs here, chunk by chunk; its row says how far it got (and a restart leaves it
    // resumable with `fastmta queue job ID --resume`).
    service.runJob(actor, job.id).catch((error) =>
      log("api", `queue job ${job.id}: ${(error as Error).message}`)
    );
    return c.json(job, 202);
  });
  app.openapi(jobRoute, async (c) => {
    return c.json(await service.job(c.var.actor!, c.req.valid("param").id), 200);
  });
  app.openapi(pausesRoute, async (c) => {
    return c.json({ items: await service.listPauses(c.var.actor!) }, 200);
  });
  app.openapi(addPauseRoute, async (c) => {
    return c.json(await service.addPause(c.var.actor!, c.req.valid("json")), 201);
  });
  app.openapi(removePauseRoute, async (c) => {
    await service.removePause(c.var.actor!, c.req.valid("param").id);
    return c.body(null, 204);
  });
  return app;
}
