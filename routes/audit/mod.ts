/**
 * The audit log of the management plane: `GET /api/v1/audit` (newest first, `?kind=&object_id=`,
 * cursor pages), `GET /api/v1/audit/{id}` and `POST /api/v1/audit/{id}/revert` (puts the object
 * back as it was before that entry, as a new audited change).
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import {
  AuditEntrySchema,
  AuditIdParams,
  AuditListQuery,
  AuditListSchema,
} from "../../core/api/schemas.ts";
import type { AuditService } from "../../core/manage/mod.ts";
import { ADMINS, apiRoute, apiRouter, jsonResponse, READERS } from "../_api.ts";
import type { AdminEnv } from "../_context.ts";

const listRoute = apiRoute({
  method: "get",
  path: "/audit",
  summary: "The audit log, newest first",
  tags: ["audit"],
  roles: READERS,
  request: { query: AuditListQuery },
  responses: { 200: jsonResponse(AuditListSchema, "A page of entries") },
});

const entryRoute = apiRoute({
  method: "get",
  path: "/audit/{id}",
  summary: "One audit entry",
  tags: ["audit"],
  roles: READERS,
  request: { params: AuditIdParams },
  responses: { 200: jsonResponse(AuditEntrySchema, "The entry") },
});

const revertRoute = apiRoute({
  method: "post",
  path: "/audit/{id}/revert",
  summary: "Put the object back as it was before this entry (a new, audited change)",
  tags: ["audit"],
  roles: ADMINS,
  request: { params: AuditIdParams },
  responses: { 200: jsonResponse(AuditEntrySchema, "The revert's own entry") },
});

/** Audit API. */
export function auditApi(ctx: { audit: AuditService }): OpenAPIHono<AdminEnv> {
  const app = apiRouter();
  app.openapi(listRoute, async (c) => {
    const { cursor, limit, kind, object_id } = c.req.valid("query");
    return c.json(await ctx.audit.list({ cursor, limit, kind, object_id }), 200);
  });
  app.openapi(entryRoute, async (c) => c.json(await ctx.audit.get(c.req.valid("param").id), 200));
  app.openapi(revertRoute, async (c) => {
    const entry = await ctx.audit.revert(c.req.valid("param").id, c.var.actor!);
    return c.json(entry, 200);
  });
  return app;
}
