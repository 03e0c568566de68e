/**
 * The frame of every console page: head, navigation and the logout form for a session. Works
 * from a 390 px phone (the header wraps, wide tables scroll inside their own box) to a wide
 * screen; a skip link and visible focus rings keep it keyboard-usable. No external asset.
 */
import type { ComponentChildren, VNode } from "preact";
import { useSession } from "./session.ts";

/** Navigation entries shown to a logged-in user. */
const NAV = [
  { href: "/", label: "Dashboard" },
  { href: "/messages", label: "Messages" },
  { href: "/queue", label: "Queue" },
  { href: "/config", label: "Configuration" },
  { href: "/domains", label: "Domains" },
  { href: "/suppressions", label: "Suppressions" },
  { href: "/accounts/smtp-users", label: "Accounts" },
  { href: "/audit", label: "Audit" },
  { href: "/attempts", label: "Delivery log" },
  { href: "/webhooks", label: "Webhooks" },
];

const FOCUS = "focus:outline-none focus:ring-2 focus:ring-yellow-400 rounded";

/** A console page titled `title`; the session (if any) comes from the page helper. */
export function Layout(
  props: { title: string; children: ComponentChildren; head?: ComponentChildren },
): VNode {
  const session = useSession();
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{props.title} · fastmta</title>
        {session && <meta name="csrf-token" content={session.csrfToken} />}
        {props.head}
      </head>
      <body class="bg-gray-50 text-gray-900 font-sans">
        <a
          href="#main"
          class="sr-only focus:not-sr-only focus:absolute focus:p-2 focus:bg-white focus:text-black"
        >
          Skip to content
        </a>
        <header class="bg-gray-900 text-white">
          <div class="max-w-screen-2xl mx-auto px-4 py-3 flex flex-wrap items-center gap-x-5 gap-y-2">
            <a href="/" class={`font-bold text-lg ${FOCUS}`}>fastmta</a>
            {session && (
              <nav aria-label="Main" class="flex flex-wrap gap-x-4 gap-y-1 text-sm">
                {NAV.map((n) => (
                  <a key={n.href} href={n.href} class={`text-gray-200 hover:text-white ${FOCUS}`}>
                    {n.label}
                  </a>
                ))}
              </nav>
            )}
            {session && (
              <form method="post" action="/logout" class="ml-auto flex items-center gap-3">
                <span class="text-gray-300 text-sm">
                  {session.user} <span class="text-gray-400">({session.role})</span>
                </span>
                <input type="hidden" name="_csrf" value={session.csrfToken} />
                <button type="submit" class={`text-sm text-gray-200 hover:text-white ${FOCUS}`}>
                  Log out
                </button>
              </form>
            )}
          </div>
        </header>
        <main id="main" class="max-w-screen-2xl mx-auto px-4 py-6">{props.children}</main>
        <footer class="max-w-screen-2xl mx-auto px-4 pb-6 text-xs text-gray-600">
          Times are shown in UTC.
        </footer>
      </body>
    </html>
  );
}
