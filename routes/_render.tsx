/**
 * Page rendering: Preact to HTML on the server, Twind turns the utility classes used on the page
 * into one inline stylesheet, and pages that contain islands load the island bundle.
 */
import { extract, install } from "@twind/core";
import presetTailwind from "@twind/preset-tailwind";
import type { ComponentChildren, VNode } from "preact";
import { render } from "preact-render-to-string";

install({ presets: [presetTailwind()], hash: false });

/** Navigation entries shown to a logged-in user. */
const NAV = [
  { href: "/", label: "Dashboard" },
  { href: "/messages", label: "Messages" },
  { href: "/attempts", label: "Delivery log" },
];

/** The frame of every console page. */
export function Layout(props: {
  title: string;
  user?: string;
  csrfToken?: string;
  children: ComponentChildren;
}): VNode {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{props.title} · fastmta</title>
        {props.csrfToken && <meta name="csrf-token" content={props.csrfToken} />}
      </head>
      <body class="bg-gray-50 text-gray-900 font-sans">
        <header class="bg-gray-900 text-white">
          <div class="max-w-6xl mx-auto px-4 py-3 flex items-center gap-6">
            <a href="/" class="font-bold text-lg">fastmta</a>
            {props.user &&
              NAV.map((n) => (
                <a key={n.href} href={n.href} class="text-gray-300 hover:text-white">{n.label}</a>
              ))}
            {props.user && (
              <form method="post" action="/logout" class="ml-auto flex items-center gap-3">
                <span class="text-gray-400 text-sm">{props.user}</span>
                <input type="hidden" name="_csrf" value={props.csrfToken} />
                <button type="submit" class="text-sm text-gray-300 hover:text-white">
                  Log out
                </button>
              </form>
            )}
          </div>
        </header>
        <main class="max-w-6xl mx-auto px-4 py-6">{props.children}</main>
      </body>
    </html>
  );
}

/** Renders a page to a full HTML document with its stylesheet (and island script if used). */
export function renderPage(page: VNode): string {
  const markup = render(page);
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

/** Wraps an island component for hydration in the browser (see islands/client.ts). */
export function Island(props: { name: string; props: unknown; children: VNode }): VNode {
  return (
    <div data-island={props.name} data-props={JSON.stringify(props.props)}>
      {props.children}
    </div>
  );
}

/** A time as "2026-11-25 23:59:04". */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").slice(0, 19);
}
