/** The frame of every console page: head, navigation and the logout form for a session. */
import type { ComponentChildren, VNode } from "preact";
import { useSession } from "./session.ts";

/** Navigation entries shown to a logged-in user. */
const NAV = [
  { href: "/", label: "Dashboard" },
  { href: "/messages", label: "Messages" },
  { href: "/attempts", label: "Delivery log" },
  { href: "/webhooks", label: "Webhooks" },
];

/** A console page titled `title`; the session (if any) comes from the page helper. */
export function Layout(props: { title: string; children: ComponentChildren }): VNode {
  const session = useSession();
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{props.title} · fastmta</title>
        {session && <meta name="csrf-token" content={session.csrfToken} />}
      </head>
      <body class="bg-gray-50 text-gray-900 font-sans">
        <header class="bg-gray-900 text-white">
          <div class="max-w-6xl mx-auto px-4 py-3 flex items-center gap-6">
            <a href="/" class="font-bold text-lg">fastmta</a>
            {session &&
              NAV.map((n) => (
                <a key={n.href} href={n.href} class="text-gray-300 hover:text-white">{n.label}</a>
              ))}
            {session && (
              <form method="post" action="/logout" class="ml-auto flex items-center gap-3">
                <span class="text-gray-400 text-sm">{session.user}</span>
                <input type="hidden" name="_csrf" value={session.csrfToken} />
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
