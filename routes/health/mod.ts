/**
 * `GET /healthz`: 200 while this node's database answers and takes writes, else 503 "degraded"
 * (a full disk too: the store's `storageFull`, core/store/health.ts).
 */
import { Hono } from "hono";
import type { HealthBody } from "../../core/api/schemas.ts";
import type { Config } from "../../core/config/mod.ts";
import type { AdminEnv, AdminStore } from "../_context.ts";

/** The health route (no authentication). */
export function healthRoutes(
  ctx: { store: Pick<AdminStore, "health">; config: Pick<Config, "database" | "nodeId"> },
): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.get("/healthz", (c) => {
    // The main thread's store: it leases every few seconds, so it notices a lost database.
    const { ok, since, error, storageFull } = ctx.store.health();
    const database = {
      driver: ctx.config.database.driver,
      ok,
      since,
      error,
      storage_full: storageFull === true,
    };
    const body: HealthBody = {
      status: database.ok ? "ok" : "degraded",
      node: ctx.config.nodeId,
      database,
    };
    return c.json(body, database.ok ? 200 : 503);
  });
  return app;
}
