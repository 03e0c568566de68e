/** The delivery attempts table (dashboard, delivery log, one message). */
import type { VNode } from "preact";
import type { AttemptRow } from "../../core/store/mod.ts";
import { formatTime } from "./format.ts";

/** A table of delivery attempts; `showMessage` false drops the message column (one message). */
export function AttemptsTable(
  props: { attempts: (AttemptRow & { tls?: string })[]; showMessage?: boolean },
): VNode {
  const showMessage = props.showMessage ?? true;
  const showTls = props.attempts.some((a) => a.tls !== undefined);
  if (props.attempts.length === 0) return <p class="text-gray-600">No delivery attempts yet.</p>;
  return (
    <div class="overflow-x-auto bg-white shadow rounded">
      <table class="w-full text-sm">
        <thead class="text-left text-gray-600">
          <tr>
            <th class="p-2">Time</th>
            {showMessage && <th class="p-2">Message</th>}
            <th class="p-2">Recipient</th>
            <th class="p-2">Outcome</th>
            <th class="p-2">Reply</th>
            <th class="p-2">From IP</th>
            <th class="p-2">MX</th>
            {showTls && <th class="p-2">TLS</th>}
          </tr>
        </thead>
        <tbody>
          {props.attempts.map((a) => (
            <tr class="border-t">
              <td class="p-2 whitespace-nowrap">{formatTime(a.at)}</td>
              {showMessage && (
                <td class="p-2">
                  <a class="text-blue-700 hover:underline" href={`/messages/${a.messageId}`}>
                    {a.messageId}
                  </a>
                </td>
              )}
              <td class="p-2">{a.recipient}</td>
              <td class="p-2">{a.outcome}</td>
              <td class="p-2 text-gray-600">{a.reply}</td>
              <td class="p-2">{a.sourceIp}</td>
              <td class="p-2">{a.mxHost}</td>
              {showTls && <td class="p-2" data-tls={a.tls}>{a.tls}</td>}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
