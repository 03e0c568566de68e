/**
 * `GET /api/v1/messages` (newest first, `?limit=&before=`), `GET /api/v1/messages/:id` (with its
 * units: state, handling failures, quarantine reason), `POST /api/v1/messages/:id/release`
 * (quarantined units due again) and `DELETE /api/v1/messages/:id` (cancel what is left of it).
 * See docs/quarantine.md.
 */
import { Hono } from "hono";
import type { AdminEnv } from "../_auth.ts";
import { log } from "../../core/log.ts";
import { cancelMessage, messageDetail, releaseMessage } from "../../core/queue/quarantine.ts";

const apiLog = (line: string) => log("api", line);

/** Message API routes. */
export function messagesApi(): Hono<AdminEnv> {
  const api = new Hono<AdminEnv>();
  api.get("/", async (c) => {
    const limit = Math.min(Math.max(Number(c.req.query("limit") ?? 50) || 50, 1), 500);
    const before = c.req.query("before") || undefined;
    return c.json(await c.var.ctx.store.listMessages({ limit, before }));
  });
  api.get("/:id", async (c) => {
    const detail = await messageDetail(c.var.ctx.store, c.req.param("id"));
    return detail ? c.json(detail) : c.json({ error: "Message not found" }, 404);
  });
  api.post("/:id/release", async (c) => {
    const queue = c.var.ctx.queue;
    if (!queue) return c.json({ error: "Releasing is not served here" }, 503);
    const result = await releaseMessage(queue, c.var.ctx.store, c.req.param("id"), apiLog);
    return result ? c.json(result) : c.json({ error: "Message not found" }, 404);
  });
  api.delete("/:id", async (c) => {
    const result = await cancelMessage(c.var.ctx.store, c.req.param("id"), apiLog);
    return result ? c.json(result) : c.json({ error: "Message not found" }, 404);
  });
  return api;
}
