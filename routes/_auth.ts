/**
 * Console and API access control. Pages need a session cookie; the JSON API takes a session
 * cookie, an API key (`fastmta apikey add`) or a token of `admin.api_tokens` as
 * `Authorization: Bearer <token>`. Each becomes a core/manage Actor with a role (tokens: admin),
 * and each API route declares the roles it admits (routes/_api.ts). Every state-changing request
 * with a session must carry its CSRF token (form field `_csrf` or header `X-CSRF-Token`); bearer
 * requests are not exposed to CSRF (browsers do not add the header).
 */
import { timingSafeEqual } from "node:crypto";
import { Buffer } from "node:buffer";
import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import type { AdminSession } from "../core/auth/admin.ts";
import { API_KEY_PREFIX, authenticateApiKey } from "../core/auth/api_keys.ts";
import type { Config } from "../core/config/mod.ts";
import { log } from "../core/log.ts";
import { ForbiddenError, type Role, ROLES } from "../core/manage/types.ts";
import type { AdminEnv, ApiKeyCheck, SessionAuth } from "./_context.ts";
import { ApiProblem } from "./_problem.ts";
import { OPERATORS, READERS } from "./_roles.ts";

/** Name of the session cookie. */
export const SESSION_COOKIE = "fastmta_session";

/** Constant-time string comparison. */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Who may call an API key check and a session lookup on every request. */
export type IdentityContext = {
  auth: Pick<SessionAuth, "session">;
  config: Pick<Config, "admin">;
  store: ApiKeyCheck;
};

/** The bearer token of the request, or "" when there is none. */
function bearerToken(c: Context<AdminEnv>): string {
  return (c.req.header("authorization") ?? "").match(/^Bearer\s+(\S+)\s*$/i)?.[1] ?? "";
}

/** The role a stored row names, or null for a value that is not a role (no access). */
function roleOf(value: string): Role | null {
  return (ROLES as readonly string[]).includes(value) ? value as Role : null;
}

/**
 * Loads who is asking into the context as a core/manage Actor: an `admin.api_tokens` token is
 * admin; an API key (`fmk_…`, only on /api/ paths: its lookup is a database read) carries its
 * own role; else a console session its user's role. A bearer token that is none of these is
 * "invalid" (401), not anonymous, even beside a session cookie.
 */
export function loadIdentity(ctx: IdentityContext): MiddlewareHandler<AdminEnv> {
  return async function loadIdentity(c, next) {
    const session = await ctx.auth.session(getCookie(c, SESSION_COOKIE));
    c.set("session", session);
    c.set("actor", null);
    c.set("credentials", "none");
    const token = bearerToken(c);
    if (token !== "") {
      c.set("credentials", "invalid");
      if (ctx.config.admin.api_tokens.some((t) => safeEqual(t, token))) {
        c.set("actor", { name: "token", role: "admin", channel: "api" });
        c.set("credentials", "ok");
      } else if (token.startsWith(API_KEY_PREFIX) && c.req.path.startsWith("/api/")) {
        try {
          const key = await authenticateApiKey(ctx.store, token);
          const role = key ? roleOf(key.role) : null;
          if (key && role) {
            c.set("actor", { name: `key:${key.name}`, role, channel: "api", api_key_id: key.name });
            c.set("credentials", "ok");
          }
        } catch (error) {
          log("api", `cannot check an API key: ${(error as Error).message}`);
          c.set("credentials", "unavailable");
        }
      }
    } else if (session) {
      const role = roleOf(session.role);
      if (role) c.set("actor", { name: session.username, role, channel: "console" });
      c.set("credentials", role ? "ok" : "invalid");
    }
    await next();
  };
}

async function csrfOk(c: Context<AdminEnv>, session: AdminSession): Promise<boolean> {
  const header = c.req.header("x-csrf-token");
  if (header) return safeEqual(header, session.csrfToken);
  const type = c.req.header("content-type") ?? "";
  if (type.includes("application/x-www-form-urlencoded") || type.includes("multipart/form-data")) {
    const form = await c.req.parseBody();
    const field = form["_csrf"];
    return typeof field === "string" && safeEqual(field, session.csrfToken);
  }
  return false;
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Pages: a session is required (else redirect to /login); unsafe methods need the CSRF token.
 * The user's role must be one of `roles.read` to see pages (readers by default: a sender's
 * session sees no queue) and of `roles.write` to post (operators by default: a viewer cannot
 * cancel or release).
 */
export function requirePageSession(
  roles: { read?: readonly Role[]; write?: readonly Role[] } = {},
): MiddlewareHandler<AdminEnv> {
  const read = roles.read ?? READERS;
  const write = roles.write ?? OPERATORS;
  return async function requirePageSession(c, next) {
    const session = c.var.session;
    const actor = c.var.actor;
    if (!session) return c.redirect("/login");
    const safe = SAFE_METHODS.has(c.req.method);
    if (!safe && !(await csrfOk(c, session))) {
      throw new ForbiddenError("Invalid or missing CSRF token: reload the page and try again");
    }
    if (actor?.channel !== "console" || !(safe ? read : write).includes(actor.role)) {
      throw new ForbiddenError(`Your role (${session.role}) does not allow this`);
    }
    await next();
  };
}

/**
 * API: the caller's role must be one of `roles` (declared once, on the route: routes/_api.ts).
 * No credentials or wrong ones: 401; a session's unsafe request without its CSRF token, or a
 * role not in `roles`, or another credential where `apiKeysOnly`: 403; the key store
 * unreachable: 503.
 */
export function requireRoles(
  roles: readonly Role[],
  options: { apiKeysOnly?: boolean } = {},
): MiddlewareHandler<AdminEnv> {
  return async function requireRoles(c, next) {
    const credentials = c.var.credentials;
    if (credentials === "unavailable") {
      throw new ApiProblem(503, "Cannot check the API key now: the database is unavailable", [], {
        "Retry-After": "5",
      });
    }
    const actor = c.var.actor;
    if (!actor) {
      const invalid = credentials === "invalid";
      throw new ApiProblem(
        401,
        invalid
          ? "Unknown or invalid credentials"
          : "Authentication required: log in or send an API key as a bearer token",
        [],
        {
          "WWW-Authenticate": invalid
            ? 'Bearer realm="fastmta", error="invalid_token"'
            : 'Bearer realm="fastmta"',
        },
      );
    }
    const session = c.var.session;
    if (
      actor.channel === "console" && session && !SAFE_METHODS.has(c.req.method) &&
      !(await csrfOk(c, session))
    ) {
      throw new ApiProblem(403, "Invalid or missing CSRF token: send the X-CSRF-Token header");
    }
    if (!roles.includes(actor.role)) {
      throw new ForbiddenError(
        `Role "${actor.role}" may not ${c.req.method} this resource: it needs ${
          roles.map((r) => `"${r}"`).join(" or ")
        }`,
      );
    }
    if (options.apiKeysOnly && actor.api_key_id === undefined) {
      throw new ForbiddenError(
        "Only an API key may do this (fastmta apikey add): not a session nor an admin token",
      );
    }
    await next();
  };
}
