/**
 * The probe app: `GET /healthz`, `/readyz` and `/metrics` with the admin app's identity,
 * headers and error handling, and nothing else. cli/serve_parts.ts answers these paths with it
 * until the full admin app is loaded, so a node that is only scraped and probed never loads the
 * console and the API (Hono routers, zod schemas, Preact pages: ~14 MB of the main isolate's
 * heap; bench/RESULTS.md 2026-12-04 "smtpmem").
 *
 * @module
 */
import { Hono } from "hono";
import { loadIdentity } from "./_auth.ts";
import type { AdminContext, AdminEnv } from "./_context.ts";
import { consoleError } from "./_errors.tsx";
import { securityHeaders } from "./_security_headers.ts";
import { healthRoutes } from "./health/mod.ts";

/** The paths the probe app answers (GET and HEAD), as routes/health/mod.ts serves them. */
export const PROBE_PATHS: ReadonlySet<string> = new Set(["/healthz", "/readyz", "/metrics"]);

/** Whether the probe app answers `request` exactly as the full admin app would. */
export function isProbe(request: Request): boolean {
  if (request.method !== "GET" && request.method !== "HEAD") return false;
  return PROBE_PATHS.has(new URL(request.url).pathname);
}

/** Builds the probe app (the same middleware as routes/mod.ts, in the same order). */
export function probeApp(ctx: AdminContext): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.onError(consoleError());
  app.use("*", securityHeaders());
  app.use("*", loadIdentity(ctx));
  app.route("/", healthRoutes(ctx));
  return app;
}
