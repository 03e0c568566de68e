/**
 * The queue page: open units by destination domain, by pool or by vmta (tabs, one row shape),
 * counted by state, each row with Pause or Resume (the pause on exactly that row), then the
 * pauses in force and a form to add one.
 */
import type { VNode } from "preact";
import type { PauseBody } from "../../core/api/queue_ops.ts";
import type { QueueViewBody } from "../../core/api/queue_views.ts";
import { pauseFieldsFor } from "../../core/manage/queue_views.ts";
import { QUEUE_GROUPINGS, type QueueGrouping } from "../../core/store/mod.ts";
import { ActionForm } from "../_components/action_form.tsx";
import { formatTime } from "../_components/format.ts";
import { Layout } from "../_components/layout.tsx";
import { useCan, useSession } from "../_components/session.ts";
import { Table } from "../_components/table.tsx";
import { CaptionedControl, FIELD_INPUT } from "../_components/field.tsx";

const STATES = ["queued", "deferred", "paused", "quarantined"] as const;
const TITLES: Record<QueueGrouping, string> = {
  domain: "Domain",
  pool: "Pool",
  vmta: "Vmta",
};
/** The search filter a row links to. */
const FILTER: Record<QueueGrouping, string> = { domain: "domain", pool: "pool", vmta: "vmta" };
/** What a row without a key stands for. */
const NO_KEY: Record<QueueGrouping, string> = {
  domain: "(none)",
  pool: "(no pool)",
  vmta: "(not tried yet)",
};

/** The tabs: one link per grouping, the shown one marked. */
function Tabs(props: { by: QueueGrouping }): VNode {
  return (
    <nav class="flex gap-2 mb-4" aria-label="Queue views">
      {QUEUE_GROUPINGS.map((by) => (
        <a
          href={`/queue?by=${by}`}
          data-tab={by}
          aria-current={by === props.by ? "page" : undefined}
          class={"px-3 py-1 rounded text-sm " +
            (by === props.by ? "bg-gray-800 text-white" : "bg-white shadow text-blue-700")}
        >
          By {TITLES[by].toLowerCase()}
        </a>
      ))}
    </nav>
  );
}

/** The rows of one view. */
function ViewTable(props: { view: QueueViewBody }): VNode {
  const can = useCan();
  const { by, rows } = props.view;
  if (rows.length === 0) return <p class="text-gray-700" data-empty="yes">Nothing is waiting.</p>;
  return (
    <Table head={[TITLES[by], "Queued", "Deferred", "Paused", "Quarantined", ""]}>
      {rows.map((r) => (
        <tr class="border-t" data-row={r.key} {...{ [`data-${by}`]: r.key }}>
          <td class="p-2">
            {r.key === "" ? NO_KEY[by] : (
              <a
                class="text-blue-700 underline"
                href={`/messages?${new URLSearchParams({ [FILTER[by]]: r.key })}`}
              >
                {r.key}
              </a>
            )}
          </td>
          {STATES.map((s) => <td key={s} class="p-2">{r[s]}</td>)}
          <td class="p-2">
            {can.operate && r.key !== "" && (r.pause_id
              ? (
                <ActionForm
                  action={`/queue/pauses/${r.pause_id}/remove`}
                  label="Resume"
                  hidden={{ by }}
                />
              )
              : (
                <ActionForm
                  action="/queue/pauses"
                  label="Pause"
                  hidden={{ ...pauseFieldsFor(by, r.key), by }}
                />
              ))}
          </td>
        </tr>
      ))}
    </Table>
  );
}

/** The queue by one grouping (open units by state) and the pauses in force. */
export function QueuePage(props: { view: QueueViewBody; pauses: PauseBody[] }): VNode {
  const can = useCan();
  const session = useSession();
  return (
    <Layout title="Queue">
      <h1 class="text-2xl font-bold mb-4">Queue by {TITLES[props.view.by].toLowerCase()}</h1>
      <Tabs by={props.view.by} />
      {props.view.sampled && (
        <p class="text-gray-700 mb-2" data-sampled="yes">
          More units are open than this page counts: these are the soonest due of each state (the
          dashboard has the totals).
        </p>
      )}
      <ViewTable view={props.view} />
      <h2 class="text-xl font-bold mt-8 mb-2">Pauses</h2>
      {props.pauses.length === 0
        ? <p class="text-gray-700">No pause.</p>
        : (
          <Table head={["Pause", "What", "Until", "Reason", ""]}>
            {props.pauses.map((p) => (
              <tr class="border-t" data-pause={p.id}>
                <td class="p-2">{p.id}</td>
                <td class="p-2">{p.description}</td>
                <td class="p-2">{p.until ? formatTime(p.until) : "until resumed"}</td>
                <td class="p-2">{p.reason}</td>
                <td class="p-2">
                  {can.operate && (
                    <ActionForm action={`/queue/pauses/${p.id}/remove`} label="Resume" />
                  )}
                </td>
              </tr>
            ))}
          </Table>
        )}
      {can.operate && (
        <form
          method="post"
          action="/queue/pauses"
          class="mt-4 bg-white shadow rounded p-3 grid gap-2 sm:grid-cols-5 items-end"
        >
          <input type="hidden" name="_csrf" value={session?.csrfToken ?? ""} />
          <CaptionedControl label="Domain">
            <input name="domain" class={FIELD_INPUT} />
          </CaptionedControl>
          <CaptionedControl label="Pool or vmta">
            <select name="source_kind" class={FIELD_INPUT}>
              <option value="">(none)</option>
              <option value="pool">pool</option>
              <option value="vmta">vmta</option>
            </select>
          </CaptionedControl>
          <CaptionedControl label="Its name">
            <input name="source" class={FIELD_INPUT} />
          </CaptionedControl>
          <CaptionedControl label="Reason">
            <input name="reason" class={FIELD_INPUT} />
          </CaptionedControl>
          <button type="submit" class="px-3 py-1 rounded bg-gray-800 text-white text-sm">
            Add pause
          </button>
        </form>
      )}
    </Layout>
  );
}
