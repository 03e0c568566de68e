/** `GET /api/v1/queue`: recipient counts by state and units in flight. */
import { Hono } from "hono";
import type { AdminEnv } from "../_auth.ts";

/** Queue API routes. */
export function queueApi(): Hono<AdminEnv> {
  const api = new Hono<AdminEnv>();
  api.get("/", async (c) => c.json(await c.var.ctx.store.counts(Date.now())));
  return api;
}
