/**
 * The admin HTTP app: console pages (server-rendered Preact, islands hydrated in the browser)
 * and the versioned JSON API under /api/v1. Routes reach data through core/ interfaces only.
 */
import { Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { attemptsApi } from "./api/attempts.ts";
import { messagesApi } from "./api/messages.ts";
import { nodesApi } from "./api/nodes.ts";
import { queueApi } from "./api/queue.ts";
import { sendApi } from "./api/send.ts";
import {
  type AdminContext,
  type AdminEnv,
  loadIdentity,
  requireApiAccess,
  requirePageSession,
  safeEqual,
  SESSION_COOKIE,
} from "./_auth.ts";
import { renderPage } from "./_render.tsx";
import { LoginPage } from "./login.tsx";
import { DashboardPage } from "./index.tsx";
import { MessagePage, MessagesPage } from "./messages.tsx";
import { AttemptsPage } from "./attempts.tsx";
import { islandsBundle } from "./_static.ts";
import { cancelMessage, messageDetail, releaseMessage } from "../core/queue/quarantine.ts";
import { log } from "../core/log.ts";

export type { AdminContext } from "./_auth.ts";

const LOGIN_CSRF_COOKIE = "fastmta_login_csrf";

function securityHeaders(): (
  c: { header: (k: string, v: string) => void },
  next: () => Promise<void>,
) => Promise<void> {
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

  app.get("/favicon.ico", (c) => c.body(null, 404));
  app.get("/healthz", (c) => {
    // The main thread's store: it leases every few seconds, so it notices a lost database.
    const database = { driver: ctx.config.database.driver, ...ctx.store.health() };
    return c.json(
      { status: database.ok ? "ok" : "degraded", node: ctx.config.nodeId, database },
      database.ok ? 200 : 503,
    );
  });
  app.get("/static/islands.js", async (c) => {
    c.header("Content-Type", "text/javascript; charset=utf-8");
    c.header("Cache-Control", "no-cache");
    return c.body(await islandsBundle());
  });

  app.get("/login", (c) => {
    if (c.var.session) return c.redirect("/");
    // Reuse a pending token: a second tab (or a stray redirected request) must not invalidate
    // the form already on screen.
    const csrf = getCookie(c, LOGIN_CSRF_COOKIE) || crypto.randomUUID();
    setCookie(c, LOGIN_CSRF_COOKIE, csrf, { httpOnly: true, sameSite: "Strict", path: "/login" });
    return c.html(renderPage(LoginPage({ csrf })));
  });
  app.post("/login", async (c) => {
    const form = await c.req.parseBody();
    const cookie = getCookie(c, LOGIN_CSRF_COOKIE) ?? "";
    const field = typeof form["_csrf"] === "string" ? form["_csrf"] : "";
    const retry = (error: string, status: 401 | 403) => {
      const csrf = crypto.randomUUID();
      setCookie(c, LOGIN_CSRF_COOKIE, csrf, { httpOnly: true, sameSite: "Strict", path: "/login" });
      return c.html(renderPage(LoginPage({ csrf, error })), status);
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

  const pages = new Hono<AdminEnv>();
  pages.use("*", requirePageSession());
  pages.post("/logout", async (c) => {
    const token = getCookie(c, SESSION_COOKIE);
    if (token) await ctx.auth.logout(token);
    deleteCookie(c, SESSION_COOKIE, { path: "/" });
    return c.redirect("/login");
  });
  pages.get("/", async (c) => {
    const s = c.var.session!;
    const [counts, attempts] = await Promise.all([
      ctx.store.counts(Date.now()),
      ctx.store.recentAttempts({ limit: 20 }),
    ]);
    return c.html(renderPage(DashboardPage({
      user: s.username,
      csrfToken: s.csrfToken,
      counts,
      attempts,
      node: ctx.config.nodeName,
    })));
  });
  pages.get("/messages", async (c) => {
    const s = c.var.session!;
    const limit = 50;
    const messages = await ctx.store.listMessages({
      limit,
      before: c.req.query("before") || undefined,
    });
    return c.html(
      renderPage(MessagesPage({ user: s.username, csrfToken: s.csrfToken, messages, limit })),
    );
  });
  pages.get("/messages/:id", async (c) => {
    const s = c.var.session!;
    const message = await messageDetail(ctx.store, c.req.param("id"));
    if (!message) return c.notFound();
    return c.html(renderPage(MessagePage({ user: s.username, csrfToken: s.csrfToken, message })));
  });
  // Release / cancel from the message page (docs/quarantine.md); CSRF checked above.
  pages.post("/messages/:id/release", async (c) => {
    const id = c.req.param("id");
    if (!ctx.queue) return c.text("Releasing is not served here", 503);
    const result = await releaseMessage(ctx.queue, ctx.store, id, (l) => log("console", l));
    return result ? c.redirect(`/messages/${id}`) : c.notFound();
  });
  pages.post("/messages/:id/cancel", async (c) => {
    const id = c.req.param("id");
    const result = await cancelMessage(ctx.store, id, (l) => log("console", l));
    return result ? c.redirect(`/messages/${id}`) : c.notFound();
  });
  pages.get("/attempts", async (c) => {
    const s = c.var.session!;
    const attempts = await ctx.store.recentAttempts({ limit: 200 });
    return c.html(renderPage(AttemptsPage({ user: s.username, csrfToken: s.csrfToken, attempts })));
  });

  const api = new Hono<AdminEnv>();
  api.use("*", requireApiAccess());
  api.route("/queue", queueApi());
  api.route("/messages", messagesApi());
  api.route("/attempts", attemptsApi());
  api.route("/nodes", nodesApi());

  // Sending is mounted ahead of `api`: its handler answers every POST /api/v1/messages itself
  // (API keys only), so neither a session nor an admin token reaches `requireApiAccess` there.
  app.route("/api/v1/messages", sendApi());
  app.route("/api/v1", api);
  app.route("/", pages);
  return app;
}
