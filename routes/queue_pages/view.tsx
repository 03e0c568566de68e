/**
 * Queue pages: the search (every filter of the REST API, kept in the URL so a search can be
 * saved as a link), the bulk action's preview and its progress, the why-line panel of one
 * message with its actions (the queue views: queue_view.tsx).
 */
import type { VNode } from "preact";
import type { QueueJobBody, QueueUnitBody } from "../../core/api/queue_ops.ts";
import { ActionForm } from "../_components/action_form.tsx";
import { formatTime } from "../_components/format.ts";
import { Layout } from "../_components/layout.tsx";
import { useCan, useSession } from "../_components/session.ts";
import { NextPageLink, Table } from "../_components/table.tsx";
import type { FormField } from "../config/fields.ts";
import { whyWaiting } from "./why.ts";
import type { DomainRule } from "../../core/manage/message_details.ts";
import { CaptionedControl, FIELD_INPUT } from "../_components/field.tsx";

/** The search form (GET: the filter is the URL). */
export function SearchForm(
  props: { fields: FormField[]; values: Record<string, string>; errors: Map<string, string[]> },
): VNode {
  return (
    <form method="get" action="/messages" class="bg-white shadow rounded p-3 mb-4" role="search">
      <div class="grid gap-2 sm:grid-cols-3 lg:grid-cols-6">
        {props.fields.map((f) => {
          const id = `q-${f.path}`;
          const error = props.errors.get(f.path);
          return (
            <div>
              <label for={id} class="block text-sm text-gray-700">{f.path}</label>
              {f.choices
                ? (
                  <select id={id} name={f.path} class={FIELD_INPUT}>
                    <option value="">(any)</option>
                    {f.choices.map((c) => (
                      <option key={c} value={c} selected={c === props.values[f.path]}>{c}</option>
                    ))}
                  </select>
                )
                : (
                  <input
                    id={id}
                    name={f.path}
                    value={props.values[f.path] ?? ""}
                    class={FIELD_INPUT + (error ? " border-red-600" : "")}
                    aria-invalid={error ? true : undefined}
                    placeholder={f.path.endsWith("_age") ? "e.g. 1h" : undefined}
                  />
                )}
              {error && <p class="text-sm text-red-700" data-error={f.path}>{error.join("; ")}</p>}
            </div>
          );
        })}
      </div>
      <button type="submit" class="mt-2 px-3 py-1 rounded bg-gray-800 text-white text-sm">
        Search
      </button>
      <a href="/messages" class="ml-3 text-blue-700 underline text-sm">Clear</a>
    </form>
  );
}

/** Search results: units, each with its why-line; bulk actions for operators. */
export function SearchResults(
  props: { units: QueueUnitBody[]; nextCursor?: string; query: string },
): VNode {
  const can = useCan();
  if (props.units.length === 0) {
    return <p class="text-gray-700" data-empty="yes">No unit matches this search.</p>;
  }
  return (
    <div>
      <Table head={["Message", "Domain", "Sender", "State", "Why it waits", "Accepted"]}>
        {props.units.map((u) => (
          <tr class="border-t" data-unit={u.unit_id}>
            <td class="p-2">
              <a class="text-blue-700 underline" href={`/messages/${u.message_id}`}>
                {u.message_id}
              </a>
            </td>
            <td class="p-2">{u.domain}</td>
            <td class="p-2">{u.sender || "<>"}</td>
            <td class="p-2" data-unit-state={u.state}>{u.state}</td>
            <td class="p-2 text-gray-700">{whyWaiting(u) ?? "done"}</td>
            <td class="p-2 whitespace-nowrap">{formatTime(u.created_at)}</td>
          </tr>
        ))}
      </Table>
      {props.nextCursor && (
        <NextPageLink
          href={`/messages?${props.query}&cursor=${encodeURIComponent(props.nextCursor)}`}
          label="Next page"
        />
      )}
      {can.operate && (
        <form
          method="get"
          action="/messages/bulk"
          class="mt-4 flex flex-wrap gap-2 items-end bg-white shadow rounded p-3"
        >
          {new URLSearchParams(props.query).entries().toArray().map(([k, v]) => (
            <input type="hidden" name={k} value={v} />
          ))}
          <CaptionedControl label="Bulk action on every match">
            <select name="action" class="border rounded px-2 py-1">
              {["retry", "hold", "release", "bounce", "cancel"].map((a) => (
                <option key={a} value={a}>{a}</option>
              ))}
            </select>
          </CaptionedControl>
          <button type="submit" class="px-3 py-1 rounded bg-gray-800 text-white text-sm">
            Preview…
          </button>
        </form>
      )}
    </div>
  );
}

/** The page of a search. */
export function SearchPage(props: {
  fields: FormField[];
  values: Record<string, string>;
  errors: Map<string, string[]>;
  units: QueueUnitBody[];
  nextCursor?: string;
  query: string;
}): VNode {
  return (
    <Layout title="Messages">
      <h1 class="text-2xl font-bold mb-4">Messages</h1>
      <SearchForm fields={props.fields} values={props.values} errors={props.errors} />
      {props.errors.size === 0 && (
        <SearchResults units={props.units} nextCursor={props.nextCursor} query={props.query} />
      )}
    </Layout>
  );
}

/** The bulk action's preview: how many units, then confirm. */
export function BulkPreviewPage(
  props: { action: string; count: number; filter: Record<string, string> },
): VNode {
  const session = useSession();
  const described = Object.entries(props.filter).map(([k, v]) => `${k}=${v}`).join(", ");
  return (
    <Layout title="Bulk action">
      <div class="max-w-xl bg-white shadow rounded p-6" role="alertdialog" aria-labelledby="q">
        <h1 id="q" class="text-xl font-bold mb-2">
          {props.action} <span data-bulk-count={props.count}>{props.count}</span> units?
        </h1>
        <p class="text-gray-700 mb-4">Matching {described || "everything"}.</p>
        <form method="post" action="/messages/bulk" class="flex gap-3 items-center">
          <input type="hidden" name="_csrf" value={session?.csrfToken ?? ""} />
          <input type="hidden" name="_action" value={props.action} />
          {Object.entries(props.filter).map(([k, v]) => (
            <input key={k} type="hidden" name={k} value={v} />
          ))}
          <button type="submit" class="px-4 py-2 rounded bg-red-700 text-white">
            {props.action} {props.count} units
          </button>
          <a
            href={`/messages?${new URLSearchParams(props.filter)}`}
            class="text-blue-700 underline"
          >
            Cancel
          </a>
        </form>
      </div>
    </Layout>
  );
}

/** A bulk job's progress; the page reloads itself every 2 s until the job ends. */
export function JobPage(props: { job: QueueJobBody }): VNode {
  const j = props.job;
  const percent = j.total === 0 ? 100 : Math.round((j.done / j.total) * 100);
  return (
    <Layout
      title={`Job ${j.id}`}
      head={j.state === "running" && <meta http-equiv="refresh" content="2" />}
    >
      <h1 class="text-2xl font-bold mb-2">Bulk {j.action}</h1>
      <p class="mb-2" data-job-state={j.state}>
        {j.state}: {j.done} of {j.total} looked at, {j.changed} changed
        {j.error && <span class="text-red-700">; {j.error}</span>}
      </p>
      <progress max={100} value={percent} class="w-full" aria-label="Progress">{percent}%</progress>
      <p class="text-sm text-gray-700 mt-2">
        Started {formatTime(j.created_at)} by {j.created_by}
      </p>
    </Layout>
  );
}

/** One message's why-lines and actions (on its page). */
export function WhyPanel(
  props: { messageId: string; units: QueueUnitBody[]; rules?: Record<string, DomainRule> },
): VNode {
  const can = useCan();
  const open = props.units.filter((u) => u.state !== "done");
  return (
    <section class="mb-6 bg-white shadow rounded p-4" aria-labelledby="why">
      <h2 id="why" class="text-lg font-bold mb-1">Why is it waiting?</h2>
      {open.length === 0
        ? <p data-why="done">Nothing is waiting: every unit is done.</p>
        : open.map((u) => (
          <p data-why={u.state}>
            <span class="font-semibold">{u.domain}:</span>{" "}
            {whyWaiting(u, Date.now(), props.rules?.[u.domain])}
          </p>
        ))}
      {can.operate && open.length > 0 && (
        <div class="flex flex-wrap gap-2 mt-3">
          <ActionForm
            action={`/messages/${props.messageId}/act`}
            label="Retry now"
            hidden={{ action: "retry" }}
          />
          <ActionForm
            action={`/messages/${props.messageId}/act`}
            label="Hold"
            hidden={{ action: "hold" }}
          />
          <ActionForm
            action={`/messages/${props.messageId}/act`}
            label="Release"
            hidden={{ action: "release" }}
          />
          <a
            class="px-3 py-1 rounded text-white text-sm bg-red-700"
            href={`/messages/${props.messageId}/confirm?action=bounce`}
          >
            Bounce…
          </a>
          <a
            class="px-3 py-1 rounded text-white text-sm bg-red-700"
            href={`/messages/${props.messageId}/confirm?action=cancel`}
          >
            Cancel…
          </a>
        </div>
      )}
    </section>
  );
}
