/** The SMTP users and API keys pages: the list, a new one's form, a new key shown once. */
import type { VNode } from "preact";
import type { StoredObject } from "../../core/manage/types.ts";
import { ActionLink } from "../_components/action_form.tsx";
import { formatTime } from "../_components/format.ts";
import { Layout } from "../_components/layout.tsx";
import { useCan } from "../_components/session.ts";
import { Table } from "../_components/table.tsx";
import type { FormField } from "../config/fields.ts";
import { NewObjectSection } from "../config/form.tsx";

/** The links between the account pages: SMTP users, API keys, console users. */
export function AccountsNav(): VNode {
  return (
    <p class="text-sm mb-1">
      <a href="/accounts/smtp-users" class="text-blue-700 underline">SMTP users</a>
      {" · "}
      <a href="/accounts/api-keys" class="text-blue-700 underline">API keys</a>
      {" · "}
      <a href="/console-users" class="text-blue-700 underline">Console users</a>
    </p>
  );
}

/** `/accounts/:kind`. */
export function AccountsPage(props: {
  kind: string;
  title: string;
  items: StoredObject<unknown>[];
  fields: FormField[];
  values: Record<string, string>;
  errors: Map<string, string[]>;
  shownOnce?: string;
}): VNode {
  const can = useCan();
  return (
    <Layout title={props.title}>
      <AccountsNav />
      <h1 class="text-2xl font-bold mb-4">{props.title}</h1>
      {props.shownOnce && (
        <div class="bg-yellow-100 text-yellow-900 rounded p-3 mb-4" role="status">
          <p class="font-semibold">The new key, shown this once: copy it now.</p>
          <code class="break-all" data-shown-once="yes">{props.shownOnce}</code>
        </div>
      )}
      {props.items.length === 0
        ? <p class="text-gray-700 mb-4" data-empty="yes">None yet.</p>
        : (
          <Table head={["Name", "Details", "Created", ""]}>
            {props.items.map((o) => {
              const body = o.body as Record<string, unknown>;
              const details = Object.entries(body)
                .filter(([k, v]) =>
                  !["username", "name", "created_at", "updated_at"].includes(k) && v !== null
                )
                .map(([k, v]) => `${k}: ${k.endsWith("_at") ? formatTime(Number(v)) : v}`)
                .join(", ");
              return (
                <tr class="border-t" data-account={o.id}>
                  <td class="p-2 break-all">{o.id}</td>
                  <td class="p-2">{details}</td>
                  <td class="p-2 whitespace-nowrap">
                    {typeof body.created_at === "number" ? formatTime(body.created_at) : ""}
                  </td>
                  <td class="p-2">
                    {can.administer && (
                      <ActionLink
                        href={`/accounts/${props.kind}/delete?id=${encodeURIComponent(o.id)}`}
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
        <NewObjectSection
          heading="New"
          action={`/accounts/${props.kind}`}
          fields={props.fields}
          values={props.values}
          errors={props.errors}
        />
      )}
    </Layout>
  );
}
