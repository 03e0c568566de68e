/**
 * Health for orchestrators and load balancers, without authentication and without secrets:
 * `GET /healthz` says the process is up (200; `status` "degraded" while the database is away or
 * its disk is full),
 * `GET /readyz` says whether this node should get work (200, or 503 naming what is not ready),
 * `GET /metrics` is the Prometheus text exposition of every thread's counters (core/metrics);
 * it takes reading credentials (an admin token, or a key of role admin/operator/viewer) unless
 * `admin.metrics_public` says a private scraper may read it without.
 */
import { Hono } from "hono";
import type { HealthBody, ReadyBody, ReadyCheck } from "../../core/api/schemas.ts";
import type { Config } from "../../core/config/mod.ts";
import { redact } from "../../core/log.ts";
import { metrics } from "../../core/metrics/mod.ts";
import type { AdminContext, AdminEnv, AdminStore } from "../_context.ts";
import { problem } from "../_problem.ts";

/** The health routes (no authentication). */
export function healthRoutes(
  ctx: {
    store: Pick<AdminStore, "health">;
    config: Pick<Config, "database" | "nodeId"> & {
      admin?: Pick<Config["admin"], "metrics_public">;
    };
    readiness?: AdminContext["readiness"];
  },
): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  const database = () => {
    const { ok, since, error, storageFull } = ctx.store.health();
    return {
      driver: ctx.config.database.driver,
      ok,
      since,
      error: error === null ? null : redact(error),
      // A full disk: the database answers but takes no writes (core/store/health.ts).
      storage_full: storageFull === true,
    };
  };
  app.get("/healthz", (c) => {
    const db = database();
    const body: HealthBody = {
      status: db.ok ? "ok" : "degraded",
      node: ctx.config.nodeId,
      database: db,
    };
    return c.json(body, 200);
  });
  app.get("/readyz", async (c) => {
    const checks: ReadyCheck[] = ctx.readiness ? await ctx.readiness() : [{
      name: "database",
      ok: database().ok,
      detail: database().error ?? "answers",
    }];
    const notReady = checks.filter((check) => !check.ok).map((check) => check.name);
    const body: ReadyBody = {
      status: notReady.length === 0 ? "ready" : "not_ready",
      node: ctx.config.nodeId,
      not_ready: notReady,
      checks,
    };
    c.header("Cache-Control", "no-store");
    return c.json(body, notReady.length === 0 ? 200 : 503);
  });
  app.get("/metrics", async (c) => {
    if (ctx.config.admin?.metrics_public !== true) {
      const actor = c.var.actor;
      if (!actor || actor.channel === "console") {
        c.header("WWW-Authenticate", 'Bearer realm="fastmta"');
        return problem(
          c,
          401,
          "/metrics needs a bearer token or an API key (role viewer or above)",
        );
      }
      if (!["admin", "operator", "viewer"].includes(actor.role)) {
        return problem(c, 403, `Role "${actor.role}" may not read /metrics`);
      }
    }
    c.header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    c.header("Cache-Control", "no-store");
    return c.body(await metrics.render());
  });
  return app;
}
