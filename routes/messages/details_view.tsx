/** A message's header section and who signs it with DKIM (core/manage/message_details.ts). */
import type { VNode } from "preact";
import type { MessageDetails } from "../../core/manage/message_details.ts";
import { Table } from "../_components/table.tsx";

/** Who signs the message: signatures already in it, and fastmta's at send time. */
export function DkimPanel(props: { details: MessageDetails }): VNode {
  const { dkim, fromDomain } = props.details;
  return (
    <section class="mb-6" aria-labelledby="dkim">
      <h2 id="dkim" class="text-xl font-bold mb-2">DKIM</h2>
      {dkim.length === 0
        ? (
          <p class="text-gray-700" data-dkim="none">
            Not signed: no DKIM-Signature in the message and no key for{" "}
            {fromDomain ? `its From domain ${fromDomain}` : "it (no From domain)"}.
          </p>
        )
        : (
          <Table head={["Domain (d=)", "Selector (s=)", "Algorithm", "Signed"]} caption="DKIM">
            {dkim.map((d) => (
              <tr
                key={`${d.source}-${d.domain}-${d.selector}`}
                class="border-t"
                data-dkim={d.source}
                data-dkim-domain={d.domain}
                data-dkim-selector={d.selector}
              >
                <td class="p-2 break-all">{d.domain}</td>
                <td class="p-2 break-all">{d.selector}</td>
                <td class="p-2">{d.algorithm}</td>
                <td class="p-2">
                  {d.source === "message"
                    ? "in the message as received"
                    : "by fastmta at send time (its key for the From domain)"}
                </td>
              </tr>
            ))}
          </Table>
        )}
    </section>
  );
}

/** The header section as stored (unfolded), capped. */
export function HeadersPanel(props: { details: MessageDetails }): VNode {
  const { headers, truncated } = props.details;
  return (
    <section class="mt-6 mb-6" aria-labelledby="headers">
      <h2 id="headers" class="text-xl font-bold mb-2">Headers</h2>
      {headers.length === 0
        ? <p class="text-gray-700" data-headers="none">The message has no header fields.</p>
        : (
          <Table head={["Field", "Value"]} caption="Headers">
            {headers.map((h, i) => (
              <tr key={i} class="border-t align-top" data-header={h.name.toLowerCase()}>
                <th scope="row" class="p-2 text-left font-medium whitespace-nowrap">{h.name}</th>
                <td class="p-2 break-all">{h.value}</td>
              </tr>
            ))}
          </Table>
        )}
      {truncated && (
        <p class="text-sm text-gray-600 mt-1" data-headers="truncated">
          Only the first header fields are shown.
        </p>
      )}
    </section>
  );
}
