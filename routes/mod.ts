/**
 * The admin HTTP app: console pages (server-rendered Preact, islands hydrated in the browser)
 * and the versioned JSON API under /api/v1 (shapes in core/api/schemas.ts). One module per
 * resource under routes/ holds its handlers and views and takes only the roles it uses from the
 * AdminContext; this module mounts them. Every API route declares and checks its roles
 * (routes/_api.ts); the OpenAPI document is made from those same routes (routes/api_docs).
 * Mount order is behaviour: an /api/v1 path no route has is a 404 problem, and the page check
 * (mounted last at "/") answers any other path nothing else did.
 */
import { Hono } from "hono";
import { apiRouter } from "./_api.ts";
import { securityHeaders } from "./_security_headers.ts";
import { loadIdentity, requirePageSession } from "./_auth.ts";
import { registerSecuritySchemes, unmatchedApiPath } from "./_api_paths.ts";
import { apiDocsRoutes } from "./api_docs/mod.ts";
import { activityApi } from "./activity/mod.ts";
import { apiKeyApi } from "./api_keys/mod.ts";
import { auditApi } from "./audit/mod.ts";
import { auditPages } from "./audit_pages/mod.tsx";
import { queueOpsApi } from "./queue_ops/mod.ts";
import { resourceApi } from "./resources/mod.ts";
import { managementResources } from "./resources/management.ts";
import { domainExtraApi, domainResources } from "./resources/domains.ts";
import type { AdminContext, AdminEnv } from "./_context.ts";
import { consoleError, consoleNotFound } from "./_errors.tsx";
import { attemptApi, attemptPages } from "./attempts/mod.tsx";
import { accountPages } from "./account_pages/mod.tsx";
import { consoleUserPages } from "./console_user_pages/mod.tsx";
import { configPages } from "./config/mod.tsx";
import { tlsPages } from "./tls_pages/mod.tsx";
import { domainPages } from "./domain_pages/mod.tsx";
import { queuePages } from "./queue_pages/mod.tsx";
import { dashboardPages } from "./dashboard/mod.tsx";
import { healthRoutes } from "./health/mod.ts";
import { loginRoutes } from "./login/mod.tsx";
import { messageApi, messagePages } from "./messages/mod.tsx";
import { nodeApi } from "./nodes/mod.ts";
import { queueApi } from "./queue/mod.ts";
import { sendApi } from "./send/mod.ts";
import { staticRoutes } from "./static/mod.ts";
import { unsubscribeRoutes } from "./unsubscribe/mod.ts";
import { webhookApi } from "./webhooks/mod.ts";
import { webhookPages } from "./webhooks/pages.tsx";

export type { AdminContext, AdminStore } from "./_context.ts";

/** Builds the admin app. */
export function adminApp(ctx: AdminContext): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.notFound(consoleNotFound());
  app.onError(consoleError());
  app.use("*", securityHeaders());
  app.use("*", loadIdentity(ctx));

  // No session needed.
  app.route("/", staticRoutes());
  app.route("/", healthRoutes(ctx));
  app.route("/", loginRoutes(ctx));
  // The public one-click unsubscribe link: the signed token is the credential (RFC 8058).
  app.route("/", unsubscribeRoutes(ctx));

  // Each API route checks its own roles (routes/_api.ts); unknown paths are 404 problems.
  const api = apiRouter();
  api.route("/", sendApi(ctx));
  api.route("/", queueApi(ctx));
  api.route("/", activityApi(ctx));
  api.route("/", messageApi(ctx));
  api.route("/", attemptApi(ctx));
  api.route("/", nodeApi(ctx));
  const resources = ctx.resources ?? [
    ...(ctx.management ? managementResources(ctx.management) : []),
    ...(ctx.domainServices ? domainResources(ctx.domainServices) : []),
  ];
  if (ctx.domainServices) api.route("/", domainExtraApi(ctx.domainServices));
  api.route("/", resourceApi(resources));
  if (ctx.management) api.route("/", auditApi(ctx.management));
  if (ctx.queueOps) api.route("/", queueOpsApi(ctx.queueOps));
  api.route("/", apiKeyApi({ store: ctx.store, audit: ctx.management?.audit }));
  api.route("/", webhookApi(ctx));
  registerSecuritySchemes(api);
  app.route("/", apiDocsRoutes(api));
  api.all("*", unmatchedApiPath(api));

  const pages = new Hono<AdminEnv>();
  pages.use("*", requirePageSession());
  pages.route("/", dashboardPages(ctx));
  pages.route("/", queuePages(ctx)); // before messagePages: a filtered /messages is a search
  pages.route("/", messagePages(ctx));
  pages.route("/", attemptPages(ctx));
  pages.route("/", tlsPages(ctx)); // before configPages: /config/tls is no kind
  pages.route("/", configPages(ctx));
  pages.route("/", domainPages(ctx));
  pages.route("/", accountPages(ctx));
  pages.route("/", consoleUserPages(ctx));
  pages.route("/", auditPages(ctx));
  pages.route("/", webhookPages(ctx));

  app.route("/api/v1", api);
  app.route("/", pages);
  return app;
}
