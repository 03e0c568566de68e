/**
 * Console and API access control. Pages need a session cookie; the JSON API takes a session
 * cookie or `Authorization: Bearer <token>` (tokens from `admin.api_tokens`). Every
 * state-changing request with a session must carry its CSRF token (form field `_csrf` or header
 * `X-CSRF-Token`); bearer requests are not exposed to CSRF (browsers do not add the header).
 * Sending mail (`POST /api/v1/messages`) takes API keys only and checks them itself
 * (send/api.ts).
 */
import { timingSafeEqual } from "node:crypto";
import { Buffer } from "node:buffer";
import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import type { AdminSession } from "../core/auth/admin.ts";
import type { Config } from "../core/config/mod.ts";
import type { AdminEnv, SessionAuth } from "./_context.ts";

/** Name of the session cookie. */
export const SESSION_COOKIE = "fastmta_session";

/** Constant-time string comparison. */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Loads the session (if any) and the bearer token check into the context. */
export function loadIdentity(
  ctx: { auth: Pick<SessionAuth, "session">; config: Pick<Config, "admin"> },
): MiddlewareHandler<AdminEnv> {
  return async function loadIdentity(c, next) {
    c.set("session", await ctx.auth.session(getCookie(c, SESSION_COOKIE)));
    const header = c.req.header("authorization") ?? "";
    const token = header.startsWith("Bearer ") ? header.slice(7).trim() : "";
    c.set("bearer", token !== "" && ctx.config.admin.api_tokens.some((t) => safeEqual(t, token)));
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

/** Pages: a session is required (else redirect to /login); unsafe methods need the CSRF token. */
export function requirePageSession(): MiddlewareHandler<AdminEnv> {
  return async function requirePageSession(c, next) {
    const session = c.var.session;
    if (!session) return c.redirect("/login");
    if (!SAFE_METHODS.has(c.req.method) && !(await csrfOk(c, session))) {
      return c.text("Invalid or missing CSRF token", 403);
    }
    await next();
  };
}

/** API: a bearer token or a session (with CSRF token for unsafe methods). */
export function requireApiAccess(): MiddlewareHandler<AdminEnv> {
  return async function requireApiAccess(c, next) {
    if (c.var.bearer) return await next();
    const session = c.var.session;
    if (!session) {
      return c.json({ error: "Authentication required: log in or send a bearer token" }, 401);
    }
    if (!SAFE_METHODS.has(c.req.method) && !(await csrfOk(c, session))) {
      return c.json({ error: "Invalid or missing CSRF token" }, 403);
    }
    await next();
  };
}
