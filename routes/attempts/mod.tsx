/**
 * The delivery log: the page `GET /attempts` (a live tail of the newest 200 that match its
 * `?outcome=&q=` filter) and `GET /api/v1/attempts` (newest
 * first, `?limit=`).
 */
import { Hono } from "hono";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { AttemptListQuery, AttemptListSchema } from "../../core/api/schemas.ts";
import { attemptDocument } from "../../core/manage/api_documents.ts";
import { apiRoute, apiRouter, jsonResponse, READERS } from "../_api.ts";
import type { AdminEnv, AdminViewStore } from "../_context.ts";
import { sendPage } from "../_page.tsx";
import { matches, type TailFilter } from "../../islands/attempts_tail.tsx";
import { AttemptsPage } from "./view.tsx";

type AttemptsContext = { store: Pick<AdminViewStore, "recentAttempts"> };

/** Delivery log page (behind the page session check). */
export function attemptPages(ctx: AttemptsContext): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.get("/attempts", async (c) => {
    const filter: TailFilter = {
      outcome: c.req.query("outcome") || undefined,
      q: c.req.query("q") || undefined,
    };
    const rows = await ctx.store.recentAttempts({ limit: 500 });
    const attempts = rows.map(attemptDocument).filter((a) => matches(a, filter)).slice(0, 200);
    return sendPage(c, <AttemptsPage attempts={attempts} filter={filter} />);
  });
  return app;
}

const attemptsRoute = apiRoute({
  method: "get",
  path: "/attempts",
  summary: "The delivery log: the newest attempts, newest first",
  tags: ["messages"],
  roles: READERS,
  request: { query: AttemptListQuery.pick({ limit: true }) },
  responses: { 200: jsonResponse(AttemptListSchema, "The newest `limit` attempts") },
});

/** Delivery log API. */
export function attemptApi(ctx: AttemptsContext): OpenAPIHono<AdminEnv> {
  const app = apiRouter();
  app.openapi(attemptsRoute, async (c) => {
    const { limit } = c.req.valid("query");
    const rows = await ctx.store.recentAttempts({ limit });
    return c.json({ items: rows.map(attemptDocument) }, 200);
  });
  return app;
}
