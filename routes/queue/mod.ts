/** `GET /api/v1/queue`: recipient counts by state and units in flight. */
import { Hono } from "hono";
import type { QueueCountsBody } from "../../core/api/schemas.ts";
import type { AdminEnv, AdminViewStore } from "../_context.ts";

/** Queue API (behind the API access check). */
export function queueApi(ctx: { store: Pick<AdminViewStore, "counts"> }): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.get("/queue", async (c) => {
    const body: QueueCountsBody = await ctx.store.counts(Date.now());
    return c.json(body);
  });
  return app;
}
