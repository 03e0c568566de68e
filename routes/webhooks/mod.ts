/**
 * `/api/v1/webhooks`: the REST face of the webhook service (core/manage/webhooks.ts; docs/
 * webhooks.md). Behind the API access check (bearer token, or a session with its CSRF token on
 * every change); both act as admin until the management plane's roles reach the API. Errors
 * come from the service: 400 with `errors` naming each field, 403, 404, 409, 412.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { Actor } from "../../core/manage/types.ts";
import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  ValidationError,
  VersionConflictError,
} from "../../core/manage/types.ts";
import type { WebhookService } from "../../core/manage/webhooks.ts";
import type { AdminEnv } from "../_context.ts";

function actorOf(c: Context<AdminEnv>): Actor {
  const session = c.get("session");
  return session
    ? { name: session.username, role: "admin", channel: "console" }
    : { name: "token", role: "admin", channel: "api" };
}

function idOf(c: Context<AdminEnv>): string {
  return c.req.param("id") ?? "";
}

function problem(c: Context<AdminEnv>, error: unknown): Response {
  if (error instanceof ValidationError) {
    return c.json({ error: error.message, errors: error.issues }, 400);
  }
  if (error instanceof ForbiddenError) return c.json({ error: error.message }, 403);
  if (error instanceof NotFoundError) return c.json({ error: error.message }, 404);
  if (error instanceof ConflictError) return c.json({ error: error.message }, 409);
  if (error instanceof VersionConflictError) return c.json({ error: error.message }, 412);
  throw error;
}

async function jsonBody(c: Context<AdminEnv>): Promise<unknown> {
  try {
    return await c.req.json();
  } catch {
    throw new ValidationError([{ path: "", message: "Expected a JSON object" }]);
  }
}

function ifMatch(c: Context<AdminEnv>): number | undefined {
  const header = c.req.header("if-match")?.replaceAll('"', "").trim();
  if (!header) return undefined;
  const version = Number(header);
  if (!Number.isInteger(version) || version < 1) {
    throw new ValidationError([{ path: "If-Match", message: "Expected a version number" }]);
  }
  return version;
}

function limitOf(c: Context<AdminEnv>): number | undefined {
  const text = c.req.query("limit");
  if (text === undefined) return undefined;
  const limit = Number(text);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1_000) {
    throw new ValidationError([{ path: "limit", message: "Expected an integer from 1 to 1000" }]);
  }
  return limit;
}

/** Webhook API (behind the API access check); 503 where the service is not served. */
export function webhookApi(ctx: { webhooks?: WebhookService }): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  const run =
    (handler: (c: Context<AdminEnv>, service: WebhookService) => Promise<Response>) =>
    async (c: Context<AdminEnv>) => {
      if (!ctx.webhooks) return c.json({ error: "Webhooks are not served here" }, 503);
      try {
        return await handler(c, ctx.webhooks);
      } catch (error) {
        return problem(c, error);
      }
    };
  app.get(
    "/webhooks",
    run(async (c, s) => c.json(await s.list({ cursor: c.req.query("cursor"), limit: limitOf(c) }))),
  );
  app.post(
    "/webhooks",
    run(async (c, s) => c.json(await s.create(await jsonBody(c), actorOf(c)), 201)),
  );
  app.get(
    "/webhooks/:id",
    run(async (c, s) => {
      const found = await s.read(idOf(c), actorOf(c));
      c.header("ETag", `"${found.version}"`);
      return c.json(found);
    }),
  );
  app.patch(
    "/webhooks/:id",
    run(async (c, s) => {
      const changed = await s.update(idOf(c), await jsonBody(c), actorOf(c), {
        ifVersion: ifMatch(c),
        partial: true,
      });
      c.header("ETag", `"${changed.version}"`);
      return c.json(changed);
    }),
  );
  app.delete(
    "/webhooks/:id",
    run(async (c, s) => {
      await s.remove(idOf(c), actorOf(c), { ifVersion: ifMatch(c) });
      return c.body(null, 204);
    }),
  );
  app.get(
    "/webhooks/:id/deliveries",
    run(async (c, s) => c.json(await s.deliveries(idOf(c), actorOf(c), limitOf(c)))),
  );
  app.get(
    "/webhooks/:id/dead-letters",
    run(async (c, s) =>
      c.json({
        items: await s.deadLetters(idOf(c), actorOf(c), {
          limit: limitOf(c),
          includeEvents: c.req.query("events") === "true",
        }),
      })
    ),
  );
  app.post(
    "/webhooks/:id/replay",
    run(async (c, s) => {
      const text = await c.req.text();
      let ids: number[] | undefined;
      if (text.trim() !== "") {
        let body: { ids?: unknown };
        try {
          body = JSON.parse(text);
        } catch {
          throw new ValidationError([{ path: "", message: "Expected a JSON object" }]);
        }
        if (body.ids !== undefined) {
          if (!Array.isArray(body.ids)) {
            throw new ValidationError([{ path: "ids", message: "Expected an array of ids" }]);
          }
          ids = body.ids as number[];
        }
      }
      return c.json(await s.replay(idOf(c), actorOf(c), ids));
    }),
  );
  return app;
}
