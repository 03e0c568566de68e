/**
 * The admin HTTP app: console pages (server-rendered Preact, islands hydrated in the browser)
 * and the versioned JSON API under /api/v1 (shapes in core/api/schemas.ts). One module per
 * resource under routes/ holds its handlers and views and takes only the roles it uses from the
 * AdminContext; this module applies the access rules (_auth.ts) and mounts them. Mount order is
 * behaviour: the send endpoint answers every POST /api/v1/messages before the API check, and the
 * page check (mounted last at "/") answers any path nothing else did.
 */
import { Hono } from "hono";
import type { MiddlewareHandler } from "hono";
import { loadIdentity, requireApiAccess, requirePageSession } from "./_auth.ts";
import type { AdminContext, AdminEnv } from "./_context.ts";
import { attemptApi, attemptPages } from "./attempts/mod.tsx";
import { dashboardPages } from "./dashboard/mod.tsx";
import { healthRoutes } from "./health/mod.ts";
import { loginRoutes } from "./login/mod.tsx";
import { messageApi, messagePages } from "./messages/mod.tsx";
import { nodeApi } from "./nodes/mod.ts";
import { queueApi } from "./queue/mod.ts";
import { sendApi } from "./send/mod.ts";
import { staticRoutes } from "./static/mod.ts";
import { webhookApi } from "./webhooks/mod.ts";

export type { AdminContext, AdminStore } from "./_context.ts";

function securityHeaders(): MiddlewareHandler<AdminEnv> {
  return async function securityHeaders(c, next) {
    await next();
    c.header("X-Frame-Options", "DENY");
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "same-origin");
    c.header(
      "Content-Security-Policy",
      "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'",
    );
  };
}

/** Builds the admin app. */
export function adminApp(ctx: AdminContext): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.use("*", securityHeaders());
  app.use("*", loadIdentity(ctx));

  // No session needed.
  app.route("/", staticRoutes());
  app.route("/", healthRoutes(ctx));
  app.route("/", loginRoutes(ctx));

  const api = new Hono<AdminEnv>();
  api.use("*", requireApiAccess());
  api.route("/", queueApi(ctx));
  api.route("/", messageApi(ctx));
  api.route("/", attemptApi(ctx));
  api.route("/", nodeApi(ctx));
  api.route("/", webhookApi(ctx));

  const pages = new Hono<AdminEnv>();
  pages.use("*", requirePageSession());
  pages.route("/", dashboardPages(ctx));
  pages.route("/", messagePages(ctx));
  pages.route("/", attemptPages(ctx));

  // Sending is mounted ahead of `api`: its handler answers every POST /api/v1/messages itself
  // (API keys only), so neither a session nor an admin token reaches `requireApiAccess` there.
  app.route("/api/v1/messages", sendApi(ctx));
  app.route("/api/v1", api);
  app.route("/", pages);
  return app;
}
