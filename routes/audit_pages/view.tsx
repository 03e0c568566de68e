/**
 * The audit pages: the log (who, when, through which face, what), and one entry with the diff
 * of its before and after (npm `diff`, line by line over the pretty JSON) and its revert button.
 */
import { diffLines } from "diff";
import type { VNode } from "preact";
import type { AuditEntry } from "../../core/manage/mod.ts";
import { ActionForm } from "../_components/action_form.tsx";
import { formatTime } from "../_components/format.ts";
import { Layout } from "../_components/layout.tsx";
import { useCan } from "../_components/session.ts";
import { NextPageLink, Table } from "../_components/table.tsx";
import { CaptionedControl } from "../_components/field.tsx";

function pretty(value: unknown): string {
  return value === null || value === undefined ? "" : JSON.stringify(value, null, 2) + "\n";
}

/** The before → after diff of an entry: removed lines red, added green. */
export function AuditDiff(props: { entry: AuditEntry }): VNode {
  const parts = diffLines(pretty(props.entry.before), pretty(props.entry.after));
  return (
    <pre class="bg-white shadow rounded p-3 text-xs overflow-x-auto" data-diff="yes">
      {parts.map((part) =>
        part.value.split("\n").filter((line, i, all) => i < all.length - 1 || line !== "").map((
          line,
        ) => (
          <div
            class={part.added
              ? "bg-green-100 text-green-900"
              : part.removed
              ? "bg-red-100 text-red-900"
              : "text-gray-700"}
          >
            {part.added ? "+ " : part.removed ? "- " : "  "}
            {line}
          </div>
        ))
      )}
    </pre>
  );
}

/** `/audit`: newest first, a page at a time, filtered by kind. */
export function AuditListPage(
  props: { entries: AuditEntry[]; nextCursor?: string; kind?: string; kinds: string[] },
): VNode {
  return (
    <Layout title="Audit log">
      <h1 class="text-2xl font-bold mb-4">Audit log</h1>
      <form method="get" action="/audit" class="flex flex-wrap gap-2 items-end mb-4">
        <CaptionedControl label="Kind">
          <select name="kind" class="border rounded px-2 py-1">
            <option value="">(all)</option>
            {props.kinds.map((k) => (
              <option key={k} value={k} selected={k === props.kind}>{k}</option>
            ))}
          </select>
        </CaptionedControl>
        <button type="submit" class="px-3 py-1 rounded bg-gray-800 text-white text-sm">
          Filter
        </button>
      </form>
      {props.entries.length === 0
        ? <p class="text-gray-700" data-empty="yes">No changes recorded yet.</p>
        : (
          <Table head={["When", "Who", "Via", "Action", "Kind", "Object", ""]} caption="Audit log">
            {props.entries.map((e) => (
              <tr class="border-t" data-audit={e.id}>
                <td class="p-2 whitespace-nowrap">{formatTime(e.at)}</td>
                <td class="p-2">
                  {e.actor} <span class="text-gray-600">({e.role})</span>
                </td>
                <td class="p-2">{e.channel}</td>
                <td class="p-2">{e.action}</td>
                <td class="p-2">{e.kind}</td>
                <td class="p-2 break-all">{e.object_id}</td>
                <td class="p-2">
                  <a href={`/audit/${e.id}`} class="text-blue-700 underline">Diff</a>
                </td>
              </tr>
            ))}
          </Table>
        )}
      {props.nextCursor && (
        <NextPageLink
          href={`/audit?cursor=${encodeURIComponent(props.nextCursor)}${
            props.kind ? `&kind=${props.kind}` : ""
          }`}
          label="Older"
        />
      )}
    </Layout>
  );
}

/** `/audit/:id`: one entry, its diff and (config changes, admins) its revert. */
export function AuditEntryPage(
  props: { entry: AuditEntry; revertable: boolean; reverted?: boolean },
): VNode {
  const e = props.entry;
  const can = useCan();
  return (
    <Layout title={`Audit entry ${e.id}`}>
      <p class="text-sm mb-1">
        <a href="/audit" class="text-blue-700 underline">Audit log</a>
      </p>
      <h1 class="text-2xl font-bold mb-1">
        {e.action} {e.kind} <span class="break-all">{e.object_id}</span>
      </h1>
      <p class="text-sm text-gray-700 mb-4">
        {formatTime(e.at)} by {e.actor} ({e.role}) via {e.channel}
        {e.config_version > 0 && `; config version ${e.config_version}`}
      </p>
      {props.reverted && (
        <p class="bg-green-100 text-green-900 rounded p-2 mb-3" role="status">
          Reverted: this entry records the revert.
        </p>
      )}
      <AuditDiff entry={e} />
      {props.revertable && can.administer && (
        <div class="mt-4">
          <ActionForm action={`/audit/${e.id}/revert`} label="Revert this change" danger />
          <p class="text-xs text-gray-600 mt-1">
            Puts back the state before it, as a new audited change applied on every node.
          </p>
        </div>
      )}
    </Layout>
  );
}
