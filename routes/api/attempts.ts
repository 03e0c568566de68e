/** `GET /api/v1/attempts`: the delivery log, newest first (`?limit=`). */
import { Hono } from "hono";
import type { AdminEnv } from "../_auth.ts";

/** Attempts API routes. */
export function attemptsApi(): Hono<AdminEnv> {
  const api = new Hono<AdminEnv>();
  api.get("/", async (c) => {
    const limit = Math.min(Math.max(Number(c.req.query("limit") ?? 100) || 100, 1), 1000);
    return c.json(await c.var.ctx.store.recentAttempts({ limit }));
  });
  return api;
}
