/**
 * Logging in and out: `GET /login` (the form, with a double-submit CSRF token), `POST /login`
 * (a session cookie and a redirect to the dashboard) and `POST /logout` (a session and its CSRF
 * token required). The login form is always rendered logged out (no navigation), even for a
 * request that carries a session.
 */
import { Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { requirePageSession, safeEqual, SESSION_COOKIE } from "../_auth.ts";
import { ANYONE } from "../_roles.ts";
import type { AdminEnv, SessionAuth } from "../_context.ts";
import { renderPage } from "../_page.tsx";
import { LoginPage } from "./view.tsx";

const LOGIN_CSRF_COOKIE = "fastmta_login_csrf";

/** Login and logout routes. */
export function loginRoutes(ctx: { auth: SessionAuth }): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.get("/login", (c) => {
    if (c.var.session) return c.redirect("/");
    // Reuse a pending token: a second tab (or a stray redirected request) must not invalidate
    // the form already on screen.
    const csrf = getCookie(c, LOGIN_CSRF_COOKIE) || crypto.randomUUID();
    setCookie(c, LOGIN_CSRF_COOKIE, csrf, { httpOnly: true, sameSite: "Strict", path: "/login" });
    return c.html(renderPage(<LoginPage csrf={csrf} />));
  });
  app.post("/login", async (c) => {
    const form = await c.req.parseBody();
    const cookie = getCookie(c, LOGIN_CSRF_COOKIE) ?? "";
    const field = typeof form["_csrf"] === "string" ? form["_csrf"] : "";
    const retry = (error: string, status: 401 | 403) => {
      const csrf = crypto.randomUUID();
      setCookie(c, LOGIN_CSRF_COOKIE, csrf, { httpOnly: true, sameSite: "Strict", path: "/login" });
      return c.html(renderPage(<LoginPage csrf={csrf} error={error} />), status);
    };
    if (cookie === "" || !safeEqual(cookie, field)) {
      return retry("Your form expired; please log in again.", 403);
    }
    const token = await ctx.auth.login(
      String(form["username"] ?? ""),
      String(form["password"] ?? ""),
    );
    if (!token) return retry("Wrong user name or password.", 401);
    deleteCookie(c, LOGIN_CSRF_COOKIE, { path: "/login" });
    setCookie(c, SESSION_COOKIE, token, { httpOnly: true, sameSite: "Strict", path: "/" });
    return c.redirect("/");
  });
  app.post("/logout", requirePageSession({ read: ANYONE, write: ANYONE }), async (c) => {
    const token = getCookie(c, SESSION_COOKIE);
    if (token) await ctx.auth.logout(token);
    deleteCookie(c, SESSION_COOKIE, { path: "/" });
    return c.redirect("/login");
  });
  return app;
}
