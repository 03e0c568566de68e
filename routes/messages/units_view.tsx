/** A message's delivery units on its console page: state, handling failures, quarantine. */
import type { VNode } from "preact";
import type { MessageDetail } from "../../core/queue/quarantine.ts";
import { ActionForm } from "../_components/action_form.tsx";
import { formatTime } from "../_components/format.ts";

/** Units table, with release and cancel buttons when something is quarantined or open. */
export function UnitsPanel(props: { message: MessageDetail }): VNode {
  const m = props.message;
  const quarantined = m.units.some((u) => u.state === "quarantined") ||
    m.dsn_quarantined.length > 0;
  const open = m.units.some((u) => u.state !== "done");
  return (
    <section class="mb-6" id="units">
      <h2 class="text-xl font-bold mb-2">Units</h2>
      {quarantined && (
        <p class="mb-2 text-red-700" data-quarantined="true">
          Quarantined: handling kept failing (see the reasons below). Release to try again, or
          cancel.
          {m.dsn_quarantined.length > 0 && ` DSN quarantined for ${m.dsn_quarantined.join(", ")}.`}
        </p>
      )}
      <div class="overflow-x-auto bg-white shadow rounded mb-2">
        <table class="w-full text-sm">
          <thead class="text-left text-gray-600">
            <tr>
              <th class="p-2">Unit</th>
              <th class="p-2">Domain</th>
              <th class="p-2">State</th>
              <th class="p-2">Attempts</th>
              <th class="p-2">Failures</th>
              <th class="p-2">Last failure</th>
            </tr>
          </thead>
          <tbody>
            {m.units.map((u) => (
              <tr class="border-t">
                <td class="p-2">{u.id}</td>
                <td class="p-2">{u.domain}</td>
                <td class="p-2" data-state={u.state}>
                  {u.state}
                  {u.quarantined_at !== null && ` since ${formatTime(u.quarantined_at)}`}
                </td>
                <td class="p-2">{u.attempts}</td>
                <td class="p-2">{u.failures}</td>
                <td class="p-2 text-gray-600">{u.failure_reason}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div class="flex gap-2">
        {quarantined && (
          <ActionForm
            action={`/messages/${m.id}/release`}
            label="Release"
          />
        )}
        {open && (
          <ActionForm
            action={`/messages/${m.id}/cancel`}
            label="Cancel"
          />
        )}
      </div>
    </section>
  );
}
