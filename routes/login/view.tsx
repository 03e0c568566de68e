/** The login page. */
import type { VNode } from "preact";
import { Layout } from "../_components/layout.tsx";

/** Login form; `csrf` is the token bound to the pre-session cookie (pre_session.ts). */
export function LoginPage(props: { csrf: string; error?: string }): VNode {
  return (
    <Layout title="Log in">
      <div class="max-w-sm mx-auto mt-16 bg-white shadow rounded p-6">
        <h1 class="text-xl font-bold mb-4">Log in to fastmta</h1>
        {props.error && <p class="text-red-600 mb-3" role="alert">{props.error}</p>}
        <form method="post" action="/login" class="flex flex-col gap-3">
          <input type="hidden" name="_csrf" value={props.csrf} />
          <label class="flex flex-col gap-1">
            <span class="text-sm text-gray-600">User</span>
            <input
              name="username"
              autocomplete="username"
              required
              class="border rounded px-2 py-1"
            />
          </label>
          <label class="flex flex-col gap-1">
            <span class="text-sm text-gray-600">Password</span>
            <input
              name="password"
              type="password"
              autocomplete="current-password"
              required
              class="border rounded px-2 py-1"
            />
          </label>
          <button type="submit" class="bg-gray-900 text-white rounded px-3 py-2 hover:bg-gray-700">
            Log in
          </button>
        </form>
      </div>
    </Layout>
  );
}
