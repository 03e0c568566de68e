/**
 * The configuration resources of the management plane, each a CRUD route set made by
 * routes/_crud.ts from its ObjectService (core/manage). `AdminContext.resources` is the mount
 * point: the server mounts what core/manage serves; tests mount fakes.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { apiRouter } from "../_api.ts";
import type { AdminEnv } from "../_context.ts";
import { crudRoutes } from "../_crud.ts";
import type { ResourceServices } from "../_resource.ts";

export type { ResourceServices } from "../_resource.ts";

/** Every resource's routes on one router. */
export function resourceApi(resources: ResourceServices): OpenAPIHono<AdminEnv> {
  const app = apiRouter();
  for (const resource of resources) app.route("/", crudRoutes(resource));
  return app;
}
