/**
 * Sending domains, the suppression list, SMTP users, API keys and console users over REST: the CRUD routes of routes/_crud.ts over
 * their core/manage services, plus what CRUD does not cover — a domain's DNS records, key
 * rotation and key removal, and the suppression list as CSV (export and import).
 */
import { z } from "@hono/zod-openapi";
import {
  ApiKeyCreateSchema,
  ConsoleUserSchema,
  ConsoleUserShownSchema,
  DnsRecordsSchema,
  DomainCreateSchema,
  DomainRotateSchema,
  SmtpUserCreateSchema,
  SuppressionCreateSchema,
} from "../../core/api/manage_schemas.ts";
import { IdParams } from "../../core/api/schemas.ts";
import type { DomainService } from "../../core/manage/domains.ts";
import { suppressionObjects } from "../../core/manage/suppression_objects.ts";
import type { SuppressionService } from "../../core/manage/suppressions.ts";
import type { ObjectService } from "../../core/manage/types.ts";
import { ADMINS, apiRoute, apiRouter, jsonResponse, OPERATORS, READERS } from "../_api.ts";
import type { AdminEnv } from "../_context.ts";
import { ApiProblem } from "../_problem.ts";
import type { CrudResource } from "../_resource.ts";
import type { OpenAPIHono } from "@hono/zod-openapi";

/** The services these routes serve. */
export interface DomainServices {
  domains: DomainService;
  suppressions: SuppressionService;
  smtpUsers?: ObjectService;
  apiKeys?: ObjectService;
  /** Console users (core/manage/console_users.ts). */
  consoleUsers?: ObjectService;
}

/** The CRUD resources: /domains, /suppressions, /smtp-users, /api-keys, /console-users. */
export function domainResources(services: DomainServices): CrudResource[] {
  return [
    {
      path: "domains",
      name: "Domain",
      service: services.domains as unknown as ObjectService,
      body: DomainCreateSchema,
      writeRoles: ADMINS,
    },
    {
      path: "suppressions",
      name: "Suppression",
      service: suppressionObjects(services.suppressions) as unknown as ObjectService,
      body: SuppressionCreateSchema,
      writeRoles: OPERATORS,
    },
    ...(services.smtpUsers
      ? [{
        path: "smtp-users",
        name: "SmtpUser",
        service: services.smtpUsers,
        body: SmtpUserCreateSchema,
        writeRoles: ADMINS,
        readRoles: ADMINS,
      }]
      : []),
    ...(services.apiKeys
      ? [{
        path: "api-keys",
        name: "ApiKey",
        service: services.apiKeys,
        body: ApiKeyCreateSchema,
        writeRoles: ADMINS,
        readRoles: ADMINS,
      }]
      : []),
    ...(services.consoleUsers ? [consoleUserResource(services.consoleUsers)] : []),
  ];
}

/** /console-users: admins only; the password is taken, never shown. */
export function consoleUserResource(service: ObjectService): CrudResource {
  return {
    path: "console-users",
    name: "ConsoleUser",
    service,
    body: ConsoleUserSchema,
    shownBody: ConsoleUserShownSchema,
    writeRoles: ADMINS,
    readRoles: ADMINS,
  };
}

const KeyParams = IdParams.extend({ selector: z.string().min(1) });

/** The routes beyond CRUD; mount before the CRUD routes ("/suppressions/export" is no id). */
export function domainExtraApi(services: DomainServices): OpenAPIHono<AdminEnv> {
  const app = apiRouter();
  const { domains, suppressions } = services;
  app.openapi(
    apiRoute({
      method: "get",
      path: "/domains/{id}/dns",
      summary: "The DNS records to publish for a domain",
      tags: ["domains"],
      roles: READERS,
      request: { params: IdParams },
      responses: { 200: jsonResponse(DnsRecordsSchema, "DKIM, SPF, DMARC and bounce MX") },
    }),
    async (c) => c.json({ records: await domains.dns(c.req.valid("param").id) }, 200),
  );
  app.openapi(
    apiRoute({
      method: "post",
      path: "/domains/{id}/rotate",
      summary: "Make a new signing key; the domain's other keys retire (still published)",
      tags: ["domains"],
      roles: ADMINS,
      request: {
        params: IdParams,
        body: { content: { "application/json": { schema: DomainRotateSchema } } },
      },
      responses: {
        200: jsonResponse(
          z.object({ selector: z.string(), retired: z.array(z.string()) }).passthrough(),
          "The new selector, the retired ones and the domain",
        ),
      },
    }),
    async (c) => {
      const text = await c.req.text();
      let input: unknown = {};
      try {
        if (text.trim() !== "") input = JSON.parse(text);
      } catch {
        throw new ApiProblem(400, "Malformed JSON in the request body", [
          { path: "", message: "Not a JSON document" },
        ]);
      }
      const { domain, selector, retired } = await domains.rotate(
        c.req.valid("param").id,
        input,
        c.var.actor!,
      );
      c.header("ETag", `"${domain.version}"`);
      return c.json({ selector, retired, domain }, 200);
    },
  );
  app.openapi(
    apiRoute({
      method: "delete",
      path: "/domains/{id}/keys/{selector}",
      summary: "Remove one DKIM key of a domain",
      tags: ["domains"],
      roles: ADMINS,
      request: { params: KeyParams },
      responses: { 204: { description: "Removed" } },
    }),
    async (c) => {
      const { id, selector } = c.req.valid("param");
      await domains.removeKey(id, selector, c.var.actor!);
      return c.body(null, 204);
    },
  );
  app.openapi(
    apiRoute({
      method: "get",
      path: "/suppressions/export",
      summary: "Every active suppression as CSV",
      tags: ["suppressions"],
      roles: READERS,
      responses: { 200: { description: "text/csv with a header row" } },
    }),
    async (c) => {
      const csv = await suppressions.exportCsv(c.var.actor!);
      return c.body(csv, 200, { "Content-Type": "text/csv; charset=utf-8" });
    },
  );
  app.openapi(
    apiRoute({
      method: "post",
      path: "/suppressions/import",
      summary: "Add the entries of a CSV document (all rows or none)",
      tags: ["suppressions"],
      roles: OPERATORS,
      responses: { 200: jsonResponse(z.object({ imported: z.number() }), "Rows stored") },
    }),
    async (c) => {
      if (!/^text\/csv\b/i.test(c.req.header("content-type") ?? "")) {
        throw new ApiProblem(415, "Unsupported Media Type: send the body as text/csv");
      }
      const imported = await suppressions.importCsv(await c.req.text(), c.var.actor!);
      return c.json({ imported }, 200);
    },
  );
  return app;
}
