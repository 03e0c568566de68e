/**
 * The public one-click unsubscribe link (RFC 8058): `POST /unsubscribe/<token>` (what mailbox
 * providers send, body `List-Unsubscribe=One-Click`) suppresses the address for the sending
 * domain without a login; the signed token is the only credential, so there is no session and
 * no CSRF token. `GET` only shows a confirmation form (link scanners follow GETs).
 */
import { Hono } from "hono";
import type { AdminContext, AdminEnv } from "../_context.ts";

const TOKEN = /^[0-9A-Za-z]{16}-[a-z2-7A-Z]{10}$/;

function page(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head>` +
    `<body><h1>${title}</h1>${body}</body></html>`;
}

/** The unsubscribe routes (no authentication). */
export function unsubscribeRoutes(ctx: Pick<AdminContext, "unsubscribe">): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.get("/unsubscribe/:token", (c) => {
    const token = c.req.param("token");
    if (!ctx.unsubscribe || !TOKEN.test(token)) return c.text("unknown unsubscribe link", 404);
    // The token is URL-safe by construction (checked above): no escaping needed in the form.
    return c.html(page(
      "Unsubscribe",
      `<form method="post" action="/unsubscribe/${token}">` +
        `<input type="hidden" name="List-Unsubscribe" value="One-Click">` +
        `<button type="submit">Unsubscribe</button></form>`,
    ));
  });
  app.post("/unsubscribe/:token", async (c) => {
    const token = c.req.param("token");
    if (!ctx.unsubscribe) return c.json({ error: "unsubscribe is not served here" }, 503);
    if (!TOKEN.test(token)) return c.json({ error: "token: not an unsubscribe token" }, 404);
    const done = await ctx.unsubscribe(token);
    if (!done) return c.json({ error: "token: unknown or invalid unsubscribe token" }, 404);
    if ((c.req.header("accept") ?? "").includes("text/html")) {
      return c.html(page("Unsubscribed", `<p>You will get no more mail from this sender.</p>`));
    }
    return c.json({ unsubscribed: true, sender_domain: done.senderDomain });
  });
  return app;
}
