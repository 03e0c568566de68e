/**
 * Page rendering: Preact to HTML on the server, Twind turns the utility classes used on the page
 * into one inline stylesheet, and pages that contain islands load the island bundle.
 * `sendPage` is how every handler answers with a page: it gives the request's session to every
 * component on it (routes/_components/session.ts), so no page passes it down by hand.
 */
import { extract, install } from "@twind/core";
import presetTailwind from "@twind/preset-tailwind";
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { VNode } from "preact";
import { render } from "preact-render-to-string";
import { type PageSession, SessionContext } from "./_components/session.ts";
import type { AdminEnv } from "./_context.ts";

install({ presets: [presetTailwind()], hash: false });

/** Renders a page to a full HTML document with its stylesheet (and island script if used). */
export function renderPage(page: VNode, session: PageSession | null = null): string {
  const markup = render(<SessionContext.Provider value={session}>{page}</SessionContext.Provider>);
  const { html, css } = extract(markup);
  const withStyle = html.replace("</head>", `<style data-twind>${css}</style></head>`);
  const withIslands = withStyle.includes("data-island=")
    ? withStyle.replace(
      "</body>",
      `<script type="module" src="/static/islands.js"></script></body>`,
    )
    : withStyle;
  return "<!doctype html>" + withIslands;
}

/** Answers with `page`, rendered for the request's session (none: logged out). */
export function sendPage(
  c: Context<AdminEnv>,
  page: VNode,
  status?: ContentfulStatusCode,
): Response | Promise<Response> {
  const s = c.var.session;
  const session = s ? { user: s.username, csrfToken: s.csrfToken, role: s.role } : null;
  return c.html(renderPage(page, session), status);
}
