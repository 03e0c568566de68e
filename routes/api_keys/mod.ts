/**
 * `/api/v1/api-keys`: the REST API's keys (admin only). `POST` makes a key and answers with it,
 * the only time it is shown (as `fastmta apikey add` prints it); the store keeps its SHA-256.
 * `GET` lists them without the key, `DELETE /{id}` revokes one from the next request on. Each
 * change is written to the audit log when the management plane is there.
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { IdParams, pageOf, RoleSchema } from "../../core/api/schemas.ts";
import { addApiKey } from "../../core/auth/api_keys.ts";
import type { AuditService } from "../../core/manage/mod.ts";
import { ConflictError, NotFoundError, ValidationError } from "../../core/manage/types.ts";
import type { ApiKeyStore } from "../../core/store/mod.ts";
import { ADMINS, apiRoute, apiRouter, jsonResponse, problemResponse } from "../_api.ts";
import type { AdminEnv } from "../_context.ts";

const ApiKeySchema = z.strictObject({
  name: z.string(),
  role: z.string(),
  created_at: z.number(),
  last_used_at: z.number().nullable(),
}).meta({ id: "ApiKey" });

const NewApiKeySchema = z.strictObject({
  name: z.string().meta({ description: "1-64 letters, digits, . _ -" }),
  role: RoleSchema.default("sender"),
}).meta({ id: "NewApiKey" });

const CreatedApiKeySchema = ApiKeySchema.extend({
  key: z.string().meta({ description: "The key: shown this once, store it now" }),
}).meta({ id: "CreatedApiKey" });

const tags = ["api-keys"];

const listRoute = apiRoute({
  method: "get",
  path: "/api-keys",
  summary: "The API keys (never the keys themselves)",
  tags,
  roles: ADMINS,
  responses: { 200: jsonResponse(pageOf(ApiKeySchema).meta({ id: "ApiKeyList" }), "The keys") },
});

const createRoute = apiRoute({
  method: "post",
  path: "/api-keys",
  summary: "Make a key (answered once, with the key)",
  tags,
  roles: ADMINS,
  request: {
    body: { required: true, content: { "application/json": { schema: NewApiKeySchema } } },
  },
  responses: {
    201: jsonResponse(CreatedApiKeySchema, "The new key"),
    409: problemResponse("A key of this name exists"),
  },
});

const removeRoute = apiRoute({
  method: "delete",
  path: "/api-keys/{id}",
  summary: "Revoke a key",
  tags,
  roles: ADMINS,
  request: { params: IdParams },
  responses: { 204: { description: "Revoked" } },
});

/** What the key routes take. */
export type ApiKeysContext = {
  store: Pick<ApiKeyStore, "addApiKey" | "listApiKeys" | "removeApiKey">;
  audit?: Pick<AuditService, "record">;
};

/** API key routes. */
export function apiKeyApi(ctx: ApiKeysContext): OpenAPIHono<AdminEnv> {
  const app = apiRouter();
  app.openapi(listRoute, async (c) => {
    const keys = await ctx.store.listApiKeys();
    return c.json({
      items: keys.map((k) => ({
        name: k.name,
        role: k.role,
        created_at: k.createdAt,
        last_used_at: k.lastUsedAt,
      })),
    }, 200);
  });
  app.openapi(createRoute, async (c) => {
    const { name, role } = c.req.valid("json");
    let key: string;
    try {
      key = await addApiKey(ctx.store, name, { role });
    } catch (error) {
      const message = (error as Error).message;
      if (/already exists/.test(message)) throw new ConflictError(message);
      throw new ValidationError([{ path: "name", message }]);
    }
    await ctx.audit?.record(c.var.actor!, {
      kind: "api_key",
      object_id: name,
      action: "create",
      after: { name, role },
    });
    const created = (await ctx.store.listApiKeys()).find((k) => k.name === name)!;
    c.header("Location", `/api/v1/api-keys/${encodeURIComponent(name)}`);
    return c.json({
      name,
      role,
      created_at: created.createdAt,
      last_used_at: null,
      key,
    }, 201);
  });
  app.openapi(removeRoute, async (c) => {
    const { id } = c.req.valid("param");
    if (!(await ctx.store.removeApiKey(id))) throw new NotFoundError("API key", id);
    await ctx.audit?.record(c.var.actor!, { kind: "api_key", object_id: id, action: "delete" });
    return c.body(null, 204);
  });
  return app;
}
