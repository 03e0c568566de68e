/**
 * The login form's CSRF token, bound to a pre-session: `GET /login` sets a random pre-session
 * cookie and puts HMAC(server key, cookie) in the form. `POST /login` accepts the form only when
 * its token is that HMAC of the cookie it came with. A cookie planted by someone else (`aaa`)
 * with a field to match (`aaa`) fails: nobody without the server's key can make the field.
 *
 * The key is random per process (a restart only expires forms on screen). Stateless, so a flood
 * of `GET /login` stores nothing. Behind a load balancer, GET and POST of one login must reach
 * the same node (sticky sessions), as they would for any per-node form key.
 */
import { createHmac } from "node:crypto";
import type { Context } from "hono";
import type { CookieOptions } from "hono/utils/cookie";
import { randomToken } from "../../core/auth/_tokens.ts";
import { safeEqual } from "../_auth.ts";

/** Name of the pre-session cookie. */
export const PRE_SESSION_COOKIE = "fastmta_login";

const KEY = crypto.getRandomValues(new Uint8Array(32));

/**
 * The pre-session to render the form with: the browser's own when it has a well-formed one (a
 * cookie chosen by someone else buys nothing: its token still needs the key), else a new one.
 */
export function preSession(current: string | undefined): { cookie: string; csrf: string } {
  const cookie = current && WELL_FORMED.test(current) ? current : randomToken();
  return { cookie, csrf: formToken(cookie) };
}

const WELL_FORMED = /^[A-Za-z0-9_-]{43}$/;

/** The form token that belongs to a pre-session cookie. */
export function formToken(cookie: string): string {
  return createHmac("sha256", KEY).update(`fastmta login ${cookie}`).digest("base64url");
}

/** Whether `field` is the form token of the pre-session `cookie`. */
export function preSessionOk(cookie: string | undefined, field: unknown): boolean {
  return typeof cookie === "string" && WELL_FORMED.test(cookie) && typeof field === "string" &&
    safeEqual(field, formToken(cookie));
}

/** Whether the request came over TLS (then every cookie carries `Secure`). */
export function overTls(c: Context): boolean {
  return new URL(c.req.url).protocol === "https:";
}

/** The flags of every console cookie: HttpOnly, SameSite=Strict, and Secure over TLS. */
export function cookieFlags(c: Context, path: string): CookieOptions {
  return { httpOnly: true, sameSite: "Strict", path, secure: overTls(c) };
}
