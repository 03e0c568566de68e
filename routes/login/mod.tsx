/**
 * Logging in and out: `GET /login` (the form, its CSRF token bound to a pre-session cookie:
 * pre_session.ts), `POST /login` (a new session cookie and a redirect to the dashboard) and
 * `POST /logout` (a session and its CSRF token required). The login form is always rendered
 * logged out (no navigation), even for a request that carries a session. Failed logins are
 * throttled per client address and per user name (core/auth/login_throttle.ts); while locked,
 * the right password is refused too. A login always makes a new session id and ends the one
 * the browser had, so a session id planted before login is worth nothing after it.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { LoginThrottle } from "../../core/auth/login_throttle.ts";
import type { Config } from "../../core/config/mod.ts";
import { log } from "../../core/log.ts";
import { requirePageSession, SESSION_COOKIE } from "../_auth.ts";
import { ANYONE } from "../_roles.ts";
import type { AdminEnv, SessionAuth } from "../_context.ts";
import { renderPage } from "../_page.tsx";
import { cookieFlags, PRE_SESSION_COOKIE, preSession, preSessionOk } from "./pre_session.ts";
import { LoginPage } from "./view.tsx";

/** The peer's address from Deno.serve's connection info ("unknown" in `app.request()` tests). */
function clientAddress(c: Context<AdminEnv>): string {
  const address = (c.env as Deno.ServeHandlerInfo | undefined)?.remoteAddr;
  return address && "hostname" in address ? address.hostname.replace(/^::ffff:/, "") : "unknown";
}

/** Login and logout routes. */
export function loginRoutes(
  ctx: { auth: SessionAuth; config: Pick<Config, "admin"> },
): Hono<AdminEnv> {
  const throttle = new LoginThrottle(ctx.config.admin.login);
  const app = new Hono<AdminEnv>();
  const form = (c: Context<AdminEnv>, status: 200 | 401 | 403 | 429, error?: string) => {
    // Reuse a pending pre-session: a second tab must not expire the form already on screen.
    const pre = preSession(getCookie(c, PRE_SESSION_COOKIE));
    setCookie(c, PRE_SESSION_COOKIE, pre.cookie, cookieFlags(c, "/login"));
    return c.html(renderPage(<LoginPage csrf={pre.csrf} error={error} />), status);
  };
  app.get("/login", (c) => {
    if (c.var.session) return c.redirect("/");
    return form(c, 200);
  });
  app.post("/login", async (c) => {
    const fields = await c.req.parseBody();
    if (!preSessionOk(getCookie(c, PRE_SESSION_COOKIE), fields["_csrf"])) {
      return form(c, 403, "Your form expired; please log in again.");
    }
    const username = String(fields["username"] ?? "");
    // Quoted and cut short: the name is the client's text, and must not forge log lines.
    const shown = JSON.stringify(username.slice(0, 64));
    const address = clientAddress(c);
    const lock = throttle.locked(address, username);
    if (lock) {
      log("admin", `login refused for ${shown} from ${address}: locked by ${lock.by}`);
      c.header("Retry-After", String(throttle.retryAfterSeconds));
      return form(c, 429, "Too many failed logins; please try again later.");
    }
    const token = await ctx.auth.login(username, String(fields["password"] ?? ""));
    if (!token) {
      const failures = throttle.failed(address, username);
      log(
        "admin",
        `login failed for ${shown} from ${address} ` +
          `(${failures} of ${ctx.config.admin.login.max_failures} allowed)`,
      );
      return form(c, 401, "Wrong user name or password.");
    }
    // No fixation: whatever session id the browser brought ends here.
    const previous = getCookie(c, SESSION_COOKIE);
    if (previous) await ctx.auth.logout(previous);
    deleteCookie(c, PRE_SESSION_COOKIE, cookieFlags(c, "/login"));
    setCookie(c, SESSION_COOKIE, token, cookieFlags(c, "/"));
    return c.redirect("/");
  });
  app.post("/logout", requirePageSession({ read: ANYONE, write: ANYONE }), async (c) => {
    const token = getCookie(c, SESSION_COOKIE);
    if (token) await ctx.auth.logout(token);
    deleteCookie(c, SESSION_COOKIE, cookieFlags(c, "/"));
    return c.redirect("/login");
  });
  return app;
}
