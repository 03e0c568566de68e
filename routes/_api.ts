/**
 * How every `/api/v1` route is made: `apiRoute` is `@hono/zod-openapi`'s `createRoute` plus the
 * roles that may call it, declared once — the same list is enforced (routes/_auth.ts
 * `requireRoles`, as the route's own middleware) and published in the OpenAPI document as
 * `x-fastmta-roles` (tests/api_roles walks the document to prove each role gets exactly that).
 * `apiRouter` answers invalid input with a 400 problem naming each field.
 */
import { createRoute, OpenAPIHono, type RouteConfig, z } from "@hono/zod-openapi";
import { ProblemSchema } from "../core/api/schemas.ts";
import type { Role } from "../core/manage/types.ts";
import { requireRoles } from "./_auth.ts";
import type { AdminEnv } from "./_context.ts";
import { apiErrorHandler, ApiProblem, fieldIssues, PROBLEM_TYPE } from "./_problem.ts";

export { ADMINS, OPERATORS, READERS } from "./_roles.ts";

/** The OpenAPI extension that carries a route's roles. */
export const ROLES_EXTENSION = "x-fastmta-roles";

const WHERE: Record<string, string> = {
  json: "body",
  form: "body",
  query: "query",
  param: "path",
  header: "header",
  cookie: "cookie",
};

/** A router for API routes: a failed zod check is a 400 problem with each field's path. */
export function apiRouter(): OpenAPIHono<AdminEnv> {
  const router = new OpenAPIHono<AdminEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const where = WHERE[result.target] ?? result.target;
        throw new ApiProblem(
          400,
          `Invalid ${where}: ${result.error.issues.length} problem(s), see errors`,
          fieldIssues(result.error, where === "body" ? "" : where),
        );
      }
    },
  });
  router.onError(apiErrorHandler());
  return router;
}

function problemResponse(description: string) {
  return { description, content: { [PROBLEM_TYPE]: { schema: ProblemSchema } } };
}

/** The error answers every API route may give. */
const COMMON_PROBLEMS = {
  400: problemResponse("Invalid input: `errors` names each field"),
  401: problemResponse("No credentials, or unknown ones"),
  403: problemResponse(
    "The caller's role does not allow this, or a session's CSRF token is missing",
  ),
  404: problemResponse("No such object"),
};

/** The OpenAPI extension of routes that take API keys only (not sessions nor admin tokens). */
export const API_KEYS_ONLY_EXTENSION = "x-fastmta-api-keys-only";

/**
 * What `apiRoute` takes: a route of zod-openapi without middleware, who may call it, and
 * whether only an API key may (sending: a console cookie must not be able to send mail).
 */
export type ApiRouteConfig = Omit<RouteConfig, "middleware"> & {
  roles: readonly Role[];
  apiKeysOnly?: boolean;
};

/**
 * A route of the API: `createRoute` with the role check as its middleware, the roles and the
 * credentials in its OpenAPI operation, and the common error answers documented.
 */
export function apiRoute<const R extends ApiRouteConfig>(config: R) {
  const { roles, apiKeysOnly, ...route } = config;
  return createRoute(
    {
      ...route,
      responses: { ...COMMON_PROBLEMS, ...route.responses },
      security: [{ bearer: [] }, { session: [] }],
      middleware: [requireRoles(roles, { apiKeysOnly })] as const,
      [ROLES_EXTENSION]: roles,
      ...(apiKeysOnly ? { [API_KEYS_ONLY_EXTENSION]: true } : {}),
    } as
      & Omit<R, "roles" | "apiKeysOnly">
      & { middleware: [ReturnType<typeof requireRoles>] },
  );
}

/** A JSON response of `schema`, for `responses`. */
export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

/** A problem response, for `responses` beyond the common ones (409, 412, 503, ...). */
export { problemResponse };
