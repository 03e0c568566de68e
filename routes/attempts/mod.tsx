/**
 * The delivery log: the page `GET /attempts` (newest 200) and `GET /api/v1/attempts` (newest
 * first, `?limit=`).
 */
import { Hono } from "hono";
import { type AttemptListBody, AttemptListQuery } from "../../core/api/schemas.ts";
import type { AdminEnv, AdminViewStore } from "../_context.ts";
import { sendPage } from "../_page.tsx";
import { AttemptsPage } from "./view.tsx";

type AttemptsContext = { store: Pick<AdminViewStore, "recentAttempts"> };

/** Delivery log page (behind the page session check). */
export function attemptPages(ctx: AttemptsContext): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.get("/attempts", async (c) => {
    const attempts = await ctx.store.recentAttempts({ limit: 200 });
    return sendPage(c, <AttemptsPage attempts={attempts} />);
  });
  return app;
}

/** Delivery log API (behind the API access check). */
export function attemptApi(ctx: AttemptsContext): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.get("/attempts", async (c) => {
    const { limit } = AttemptListQuery.parse(c.req.query());
    const body: AttemptListBody = await ctx.store.recentAttempts({ limit });
    return c.json(body);
  });
  return app;
}
