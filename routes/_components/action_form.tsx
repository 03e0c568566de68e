/** A one-button form that posts to `action` with the session's CSRF token. */
import type { VNode } from "preact";
import { useSession } from "./session.ts";

/** A button that posts `action`. */
export function ActionForm(props: { action: string; label: string }): VNode {
  const session = useSession();
  return (
    <form method="post" action={props.action} class="inline">
      <input type="hidden" name="_csrf" value={session?.csrfToken ?? ""} />
      <button type="submit" class="px-3 py-1 rounded bg-gray-800 text-white text-sm">
        {props.label}
      </button>
    </form>
  );
}
