/** Buttons that post with the session's CSRF token, and links styled as buttons. */
import type { VNode } from "preact";
import { useSession } from "./session.ts";

const BUTTON = "px-3 py-1 rounded text-white text-sm focus:outline-none focus:ring-2 " +
  "focus:ring-blue-500 inline-block";

/** A button that posts `action`. */
export function ActionForm(
  props: { action: string; label: string; danger?: boolean; hidden?: Record<string, string> },
): VNode {
  const session = useSession();
  return (
    <form method="post" action={props.action} class="inline">
      <input type="hidden" name="_csrf" value={session?.csrfToken ?? ""} />
      {Object.entries(props.hidden ?? {}).map(([name, value]) => (
        <input type="hidden" name={name} value={value} />
      ))}
      <button
        type="submit"
        class={`${BUTTON} ${props.danger ? "bg-red-700" : "bg-gray-800"}`}
      >
        {props.label}
      </button>
    </form>
  );
}

/** A link that looks like a button (to a confirmation page, for what is destructive). */
export function ActionLink(props: { href: string; label: string; danger?: boolean }): VNode {
  return (
    <a href={props.href} class={`${BUTTON} ${props.danger ? "bg-red-700" : "bg-gray-800"}`}>
      {props.label}
    </a>
  );
}
