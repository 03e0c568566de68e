/**
 * What the API router adds around its routes: the credentials the OpenAPI document names, and
 * the answer for a path or method no route has (a 404 or 405 problem, never the plain-text 404
 * or the login redirect of the pages).
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Handler } from "hono";
import { SESSION_COOKIE } from "./_auth.ts";
import type { AdminEnv } from "./_context.ts";
import { problem } from "./_problem.ts";

/** Names the two ways in: a bearer token (API key or admin token) and the console cookie. */
export function registerSecuritySchemes(api: OpenAPIHono<AdminEnv>): void {
  api.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "An API key (`fastmta apikey add`) or a token of `admin.api_tokens`",
  });
  api.openAPIRegistry.registerComponent("securitySchemes", "session", {
    type: "apiKey",
    in: "cookie",
    name: SESSION_COOKIE,
    description: "A console session; unsafe methods also need the X-CSRF-Token header",
  });
}

/** A route's path pattern ("/messages/:id") as a regular expression. */
function patternOf(path: string): RegExp {
  const escaped = path.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/:[^/]+/g, "[^/]+");
  return new RegExp(`^${escaped}$`);
}

/**
 * The catch-all of the API (mounted last): 405 with `Allow` when the path has routes for other
 * methods, else 404. The routes are read from the router itself on first use.
 */
export function unmatchedApiPath(api: OpenAPIHono<AdminEnv>): Handler<AdminEnv> {
  let routes: { pattern: RegExp; method: string }[] | null = null;
  return function unmatchedApiPath(c) {
    routes ??= api.routes.filter((r) => r.method !== "ALL")
      .map((r) => ({ pattern: patternOf(r.path), method: r.method }));
    const path = c.req.path.replace(/^\/api\/v1/, "") || "/";
    const allowed = [...new Set(routes.filter((r) => r.pattern.test(path)).map((r) => r.method))];
    if (allowed.length > 0) {
      c.header("Allow", allowed.join(", "));
      return problem(c, 405, `Method ${c.req.method} is not allowed on ${c.req.path}`);
    }
    return problem(c, 404, `No API resource at ${c.req.path}`);
  };
}
