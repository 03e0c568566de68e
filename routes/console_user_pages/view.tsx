/**
 * The console users page: each user with their role, a role picker per row and a remove link
 * for admins, and the form that adds one (password typed twice). Errors are shown where they
 * arise: a field of the new-user form, or the row whose change was refused (the last admin).
 */
import type { VNode } from "preact";
import type { StoredObject } from "../../core/manage/types.ts";
import { ActionLink } from "../_components/action_form.tsx";
import { FORM_INPUT, LabelledField } from "../_components/field.tsx";
import { Layout } from "../_components/layout.tsx";
import { useCan, useSession } from "../_components/session.ts";
import { Table } from "../_components/table.tsx";
import { AccountsNav } from "../account_pages/view.tsx";

/** The roles a console user may have, most powerful first. */
export const CONSOLE_ROLES = ["admin", "operator", "viewer"] as const;

const BUTTON = "px-3 py-1 rounded bg-gray-900 text-white text-sm hover:bg-gray-700 " +
  "focus:outline-none focus:ring-2 focus:ring-blue-500";

/** What the page shows besides the list. */
export interface ConsoleUsersState {
  /** The new-user form as typed (never the passwords). */
  values: { username?: string; role?: string };
  /** Errors of the new-user form by field ("" for the form as a whole). */
  errors: Map<string, string[]>;
  /** An error of one row (its username) — a refused role change or removal. */
  rowError?: { username: string; message: string };
  /** What was just done, for the status line. */
  done?: string;
}

function RoleForm(props: { user: string; role: string; error?: string }): VNode {
  const session = useSession();
  const id = `role-${props.user.replace(/[^A-Za-z0-9_-]/g, "-")}`;
  return (
    <form
      method="post"
      action={`/console-users/role?id=${encodeURIComponent(props.user)}`}
      class="flex flex-wrap gap-2 items-center"
    >
      <input type="hidden" name="_csrf" value={session?.csrfToken ?? ""} />
      <label for={id} class="sr-only">Role of {props.user}</label>
      <select
        id={id}
        name="role"
        class="border rounded px-2 py-1"
        aria-invalid={props.error ? true : undefined}
        aria-describedby={props.error ? `${id}-error` : undefined}
      >
        {CONSOLE_ROLES.map((r) => <option key={r} value={r} selected={r === props.role}>{r}
        </option>)}
      </select>
      <button type="submit" class={BUTTON}>Change role</button>
      {props.error && (
        <p id={`${id}-error`} class="text-sm text-red-700 w-full" data-error="role" role="alert">
          {props.error}
        </p>
      )}
    </form>
  );
}

function Field(props: {
  name: string;
  label: string;
  type: string;
  value?: string;
  errors: Map<string, string[]>;
  autocomplete: string;
}): VNode {
  const errors = props.errors.get(props.name) ?? [];
  const id = `f-${props.name}`;
  return (
    <LabelledField
      id={id}
      name={props.name}
      label={props.label}
      errors={errors}
      control={(aria) => (
        <input
          id={id}
          name={props.name}
          type={props.type}
          value={props.value ?? ""}
          required
          autocomplete={props.autocomplete}
          class={FORM_INPUT + (errors.length ? " border-red-600" : "")}
          aria-invalid={aria.invalid ? true : undefined}
          aria-describedby={aria.describedBy}
        />
      )}
    />
  );
}

function NewUserForm(props: ConsoleUsersState): VNode {
  const session = useSession();
  const general = props.errors.get("") ?? [];
  const roleErrors = props.errors.get("role") ?? [];
  return (
    <form method="post" action="/console-users" class="bg-white shadow rounded p-4 grid gap-3">
      <input type="hidden" name="_csrf" value={session?.csrfToken ?? ""} />
      {general.length > 0 && (
        <p class="text-red-700" role="alert" data-error="form">{general.join("; ")}</p>
      )}
      <Field
        name="username"
        label="User name"
        type="text"
        value={props.values.username}
        errors={props.errors}
        autocomplete="off"
      />
      <Field
        name="password"
        label="Password (at least 8 characters)"
        type="password"
        errors={props.errors}
        autocomplete="new-password"
      />
      <Field
        name="password_again"
        label="Password again"
        type="password"
        errors={props.errors}
        autocomplete="new-password"
      />
      <div>
        <label for="f-role" class="block text-sm font-medium text-gray-800">Role</label>
        <select id="f-role" name="role" class={FORM_INPUT}>
          {CONSOLE_ROLES.map((r) => (
            <option key={r} value={r} selected={r === (props.values.role ?? "viewer")}>{r}</option>
          ))}
        </select>
        {roleErrors.length > 0 && (
          <p class="text-sm text-red-700" data-error="role">{roleErrors.join("; ")}</p>
        )}
      </div>
      <div>
        <button type="submit" class={BUTTON}>Add user</button>
      </div>
    </form>
  );
}

/** `/console-users`. */
export function ConsoleUsersPage(
  props: { users: StoredObject<{ username: string; role: string }>[] } & ConsoleUsersState,
): VNode {
  const can = useCan();
  return (
    <Layout title="Console users">
      <AccountsNav />
      <h1 class="text-2xl font-bold mb-4">Console users</h1>
      {props.done && (
        <p class="bg-green-100 text-green-900 rounded p-3 mb-4" role="status">
          {props.done}
        </p>
      )}
      <p class="text-sm text-gray-700 mb-3">
        Admins change everything, operators act on the queue, viewers only look. The last admin
        cannot be removed or demoted.
      </p>
      {props.users.length === 0
        ? <p class="text-gray-700 mb-4" data-empty="yes">None yet.</p>
        : (
          <Table head={["User", "Role", ""]} caption="Console users">
            {props.users.map((u) => {
              const error = props.rowError?.username === u.id ? props.rowError.message : undefined;
              return (
                <tr
                  key={u.id}
                  class="border-t align-top"
                  data-console-user={u.id}
                  data-role={u.body.role}
                >
                  <td class="p-2 break-all">{u.id}</td>
                  <td class="p-2">
                    {can.administer
                      ? <RoleForm user={u.id} role={u.body.role} error={error} />
                      : u.body.role}
                  </td>
                  <td class="p-2">
                    {can.administer && (
                      <ActionLink
                        href={`/console-users/delete?id=${encodeURIComponent(u.id)}`}
                        label="Remove…"
                        danger
                      />
                    )}
                  </td>
                </tr>
              );
            })}
          </Table>
        )}
      {can.administer && (
        <section class="mt-6 max-w-xl">
          <h2 class="text-xl font-bold mb-2">Add a console user</h2>
          <NewUserForm {...props} />
        </section>
      )}
    </Layout>
  );
}
