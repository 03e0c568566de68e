/**
 * The CRUD routes of one configuration kind, made from its ObjectService (core/manage/types.ts)
 * and its zod body schema: `GET /<path>` (a page, `cursor`), `POST /<path>` (201 + ETag +
 * Location), `GET /<path>/{id}` (ETag), `PUT` / `PATCH /<path>/{id}` and `DELETE /<path>/{id}`
 * (`If-Match` guards against a lost update: 412). The ETag is the object's version. Handlers only
 * map HTTP to the service: it validates (ValidationError naming the field), versions and audits;
 * so bodies are documented from the kind's schema but not checked here a second time.
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { IdParams, pageQuery } from "../core/api/schemas.ts";
import { NotFoundError, type StoredObject, ValidationError } from "../core/manage/types.ts";
import { ADMINS, apiRoute, apiRouter, jsonResponse, problemResponse, READERS } from "./_api.ts";
import type { AdminEnv } from "./_context.ts";
import { ApiProblem } from "./_problem.ts";
import type { CrudResource } from "./_resource.ts";

/** The ETag of a version: a strong tag of the number. */
export function etagOf(version: number): string {
  return `"${version}"`;
}

/**
 * The version an `If-Match` header asks for: none without the header or for `*`; 400 naming
 * the header when it is not one of our ETags.
 */
export function ifMatchVersion(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === "*") return undefined;
  const match = header.trim().match(/^(?:W\/)?"?(\d{1,15})"?$/);
  if (!match) {
    throw new ValidationError([{
      path: "header.if-match",
      message: `Not an ETag of this API: "${header}" (send the ETag of your last read)`,
    }]);
  }
  return Number(match[1]);
}

const IfMatchHeaders = z.object({
  "if-match": z.string().optional().meta({
    description: "The ETag of your last read: 412 when the object changed since",
  }),
});

/** A zod schema as the JSON Schema of a request body (documentation only: not validated). */
function requestSchema(schema: z.ZodType, partial: boolean): Record<string, unknown> {
  const { $schema: _, ...json } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" });
  if (partial) delete json.required;
  return json;
}

/** The JSON body of a request: 415 unless it says JSON, 400 when it does not parse. */
async function jsonBody(c: Context<AdminEnv>): Promise<unknown> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/(.+\+)?json\b/i.test(type)) {
    throw new ApiProblem(415, "Unsupported Media Type: send the body as application/json");
  }
  try {
    return await c.req.json();
  } catch {
    throw new ApiProblem(400, "Malformed JSON in the request body", [
      { path: "", message: "Not a JSON document" },
    ]);
  }
}

/** The document of a stored object of `body`. */
function storedSchema(name: string, body: z.ZodType) {
  return z.strictObject({
    kind: z.string(),
    id: z.string(),
    version: z.number().int().positive().meta({ description: "Per object, from 1; the ETag" }),
    body,
    updated_at: z.number(),
    updated_by: z.string(),
  }).meta({ id: name });
}

/** The routes of `resource`, on their own router. */
export function crudRoutes(resource: CrudResource): OpenAPIHono<AdminEnv> {
  const { path, name, service } = resource;
  const writers = resource.writeRoles ?? ADMINS;
  const readers = resource.readRoles ?? READERS;
  const stored = storedSchema(name, resource.shownBody ?? resource.body);
  const page = z.strictObject({ items: z.array(stored), next_cursor: z.string().optional() })
    .meta({ id: `${name}List` });
  const one = { 200: jsonResponse(stored, `The ${name}, with its version as ETag`) };
  const conflict = { 412: problemResponse("If-Match names an older version: re-read, retry") };
  const tags = [path];
  const withId = `/${path}/{id}`;

  const app = apiRouter();
  const send = (c: { header(n: string, v: string): void }, object: StoredObject) => {
    c.header("ETag", etagOf(object.version));
    return object;
  };

  app.openapi(
    apiRoute({
      method: "get",
      path: `/${path}`,
      summary: `List ${path}`,
      tags,
      roles: readers,
      request: { query: pageQuery(50, 500) },
      responses: { 200: jsonResponse(page, `A page of ${path}`) },
    }),
    async (c) => {
      const { cursor, limit } = c.req.valid("query");
      return c.json(await service.list({ cursor, limit }), 200);
    },
  );
  app.openapi(
    apiRoute({
      method: "post",
      path: `/${path}`,
      summary: `Create a ${name}`,
      tags,
      roles: writers,
      request: {
        body: {
          required: true,
          content: { "application/json": { schema: requestSchema(resource.body, false) } },
        },
      },
      responses: {
        201: jsonResponse(stored, "Created (version 1); Location names it"),
        409: problemResponse("An object with this id exists"),
      },
    }),
    async (c) => {
      const object = await service.create(await jsonBody(c), c.var.actor!);
      c.header("Location", `/api/v1/${path}/${encodeURIComponent(object.id)}`);
      return c.json(send(c, object), 201);
    },
  );
  app.openapi(
    apiRoute({
      method: "get",
      path: withId,
      summary: `One ${name}`,
      tags,
      roles: readers,
      request: { params: IdParams },
      responses: one,
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const object = await service.get(id);
      if (!object) throw new NotFoundError(service.kind, id);
      return c.json(send(c, object), 200);
    },
  );
  for (const method of ["put", "patch"] as const) {
    const partial = method === "patch";
    app.openapi(
      apiRoute({
        method,
        path: withId,
        summary: partial ? `Change part of a ${name}` : `Replace a ${name}`,
        tags,
        roles: writers,
        request: {
          params: IdParams,
          headers: IfMatchHeaders,
          body: {
            required: true,
            content: { "application/json": { schema: requestSchema(resource.body, partial) } },
          },
        },
        responses: { ...one, ...conflict },
      }),
      async (c) => {
        const { id } = c.req.valid("param");
        const ifVersion = ifMatchVersion(c.req.header("if-match"));
        const object = await service.update(id, await jsonBody(c), c.var.actor!, {
          ifVersion,
          partial,
        });
        // One handler for both methods: their union defeats the response typing, not the check.
        return c.json(send(c, object), 200) as never;
      },
    );
  }
  app.openapi(
    apiRoute({
      method: "delete",
      path: withId,
      summary: `Delete a ${name}`,
      tags,
      roles: writers,
      request: { params: IdParams, headers: IfMatchHeaders },
      responses: { 204: { description: "Deleted" }, ...conflict },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await service.remove(id, c.var.actor!, {
        ifVersion: ifMatchVersion(c.req.header("if-match")),
      });
      return c.body(null, 204);
    },
  );
  return app;
}
