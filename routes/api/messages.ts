/** `GET /api/v1/messages` (newest first, `?limit=&before=`) and `GET /api/v1/messages/:id`. */
import { Hono } from "hono";
import type { AdminEnv } from "../_auth.ts";

/** Message API routes. */
export function messagesApi(): Hono<AdminEnv> {
  const api = new Hono<AdminEnv>();
  api.get("/", async (c) => {
    const limit = Math.min(Math.max(Number(c.req.query("limit") ?? 50) || 50, 1), 500);
    const before = c.req.query("before") || undefined;
    return c.json(await c.var.ctx.store.listMessages({ limit, before }));
  });
  api.get("/:id", async (c) => {
    const status = await c.var.ctx.store.messageStatus(c.req.param("id"));
    return status ? c.json(status) : c.json({ error: "Message not found" }, 404);
  });
  return api;
}
