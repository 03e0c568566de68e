/** The configuration pages: the kinds, one kind's objects with a form for a new one, one object. */
import type { VNode } from "preact";
import type { StoredObject } from "../../core/manage/types.ts";
import { ActionLink } from "../_components/action_form.tsx";
import { formatTime } from "../_components/format.ts";
import { Layout } from "../_components/layout.tsx";
import { NextPageLink, Table } from "../_components/table.tsx";
import type { FormField } from "./fields.ts";
import { NewObjectSection, ObjectForm } from "./form.tsx";

/** Titles and one-line explanations of the kinds, in the order the index shows them. */
export const KIND_TITLES: Record<string, { title: string; about: string }> = {
  vmta: { title: "Virtual MTAs", about: "Source IPs with their EHLO name, pool, weight, warm-up" },
  pool: { title: "Pools", about: "Named groups of source IPs that mail is sent from" },
  listener: { title: "Listeners", about: "SMTP sockets (ip, port, mode) and their certificates" },
  route: { title: "Routes", about: "Mail for a domain to a smarthost instead of its MX" },
  shaping_rule: {
    title: "Shaping rules",
    about: "Per destination: connections, rates, retries, TLS, pauses",
  },
  retention: { title: "Retention", about: "How long messages, attempts and logs are kept" },
  bounce_rule: { title: "Bounce rules", about: "Reply patterns and the bounce category they get" },
  bounce_policy: {
    title: "Bounce policies",
    about: "VERP, unsubscribe links, bounce domains per sending domain or pool",
  },
};

/** A link to one object's page (ids hold "/" and ":": they travel in the query). */
export function objectHref(kind: string, id: string, action = "edit"): string {
  return `/config/${kind}/${action}?id=${encodeURIComponent(id)}`;
}

/** `/config`: every kind with its count. */
export function ConfigIndexPage(props: { counts: Record<string, number> }): VNode {
  return (
    <Layout title="Configuration">
      <h1 class="text-2xl font-bold mb-1">Configuration</h1>
      <p class="text-gray-700 mb-4">
        Every change is validated, versioned, audited and applied live on every node. See also the
        listeners' <a href="/config/tls" class="text-blue-700 underline">TLS certificates</a>.
      </p>
      <ul class="grid gap-3 sm:grid-cols-2 lg:grid-cols-3">
        {Object.entries(KIND_TITLES).map(([kind, { title, about }]) => (
          <li class="bg-white shadow rounded p-4">
            <a href={`/config/${kind}`} class="text-blue-700 underline font-semibold">{title}</a>
            <span class="text-gray-600">({props.counts[kind] ?? 0})</span>
            <p class="text-sm text-gray-700">{about}</p>
          </li>
        ))}
      </ul>
    </Layout>
  );
}

function summary(body: unknown): string {
  const text = JSON.stringify(body);
  return text.length > 120 ? text.slice(0, 117) + "…" : text;
}

/** `/config/:kind`: its objects (a page at a time) and, for who may write, a new one's form. */
export function KindPage(props: {
  kind: string;
  objects: StoredObject<unknown>[];
  nextCursor?: string;
  canWrite: boolean;
  fields: FormField[];
  values: Record<string, string>;
  errors: Map<string, string[]>;
  saved?: string;
}): VNode {
  const { title } = KIND_TITLES[props.kind];
  return (
    <Layout title={title}>
      <p class="text-sm mb-1">
        <a href="/config" class="text-blue-700 underline">Configuration</a>
      </p>
      <h1 class="text-2xl font-bold mb-4">{title}</h1>
      {props.saved && (
        <p class="bg-green-100 text-green-900 rounded p-2 mb-3" role="status">
          {props.saved}
        </p>
      )}
      {props.objects.length === 0
        ? <p class="text-gray-700 mb-4" data-empty="yes">None yet.</p>
        : (
          <Table head={["Id", "Version", "Changed", "By", "Settings"]} caption={title}>
            {props.objects.map((o) => (
              <tr class="border-t" data-object={o.id}>
                <td class="p-2 whitespace-nowrap">
                  <a href={objectHref(props.kind, o.id)} class="text-blue-700 underline">{o.id}</a>
                </td>
                <td class="p-2">{o.version}</td>
                <td class="p-2 whitespace-nowrap">{formatTime(o.updated_at)}</td>
                <td class="p-2">{o.updated_by}</td>
                <td class="p-2 font-mono text-xs break-all">{summary(o.body)}</td>
              </tr>
            ))}
          </Table>
        )}
      {props.nextCursor && (
        <NextPageLink
          href={`/config/${props.kind}?cursor=${encodeURIComponent(props.nextCursor)}`}
          label="Next page"
        />
      )}
      {props.canWrite && (
        <NewObjectSection
          heading="New"
          action={`/config/${props.kind}`}
          fields={props.fields}
          values={props.values}
          errors={props.errors}
        />
      )}
    </Layout>
  );
}

/** One object: its form (or, read-only, its settings) and its delete link. */
export function ObjectPage(props: {
  kind: string;
  object: StoredObject<unknown>;
  canWrite: boolean;
  fields: FormField[];
  values: Record<string, string>;
  errors: Map<string, string[]>;
  saved?: string;
}): VNode {
  const { title } = KIND_TITLES[props.kind];
  const o = props.object;
  return (
    <Layout title={`${o.id} · ${title}`}>
      <p class="text-sm mb-1">
        <a href={`/config/${props.kind}`} class="text-blue-700 underline">{title}</a>
      </p>
      <h1 class="text-2xl font-bold mb-1 break-all">{o.id}</h1>
      <p class="text-sm text-gray-700 mb-4">
        Version {o.version}, changed {formatTime(o.updated_at)} by {o.updated_by}
      </p>
      {props.saved && (
        <p class="bg-green-100 text-green-900 rounded p-2 mb-3" role="status">{props.saved}</p>
      )}
      {props.canWrite
        ? (
          <div class="max-w-3xl">
            <ObjectForm
              fields={props.fields}
              values={props.values}
              errors={props.errors}
              action={objectHref(props.kind, o.id)}
              submitLabel="Save"
              version={o.version}
            />
            <p class="mt-4">
              <ActionLink href={objectHref(props.kind, o.id, "delete")} label="Delete…" danger />
            </p>
          </div>
        )
        : (
          <pre class="bg-white shadow rounded p-4 text-sm overflow-x-auto">
            {JSON.stringify(o.body, null, 2)}
          </pre>
        )}
    </Layout>
  );
}

/** The confirmation before a delete (no script needed: a page of its own). */
export function ConfirmPage(props: {
  title: string;
  question: string;
  action: string;
  back: string;
  label: string;
  hidden?: Record<string, string>;
  csrf: string;
}): VNode {
  return (
    <Layout title={props.title}>
      <div class="max-w-xl bg-white shadow rounded p-6" role="alertdialog" aria-labelledby="q">
        <h1 id="q" class="text-xl font-bold mb-4">{props.question}</h1>
        <form method="post" action={props.action} class="flex gap-3 items-center">
          <input type="hidden" name="_csrf" value={props.csrf} />
          {Object.entries(props.hidden ?? {}).map(([name, value]) => (
            <input type="hidden" name={name} value={value} />
          ))}
          <button
            type="submit"
            class="px-4 py-2 rounded bg-red-700 text-white hover:bg-red-800 focus:outline-none focus:ring-2 focus:ring-blue-500"
          >
            {props.label}
          </button>
          <a href={props.back} class="text-blue-700 underline">Cancel</a>
        </form>
      </div>
    </Layout>
  );
}
