/**
 * Island: the delivery log's live tail. The server renders the newest attempts (filtered as the
 * URL says: `?outcome=&q=`); in the browser it polls `/api/v1/attempts` every two seconds,
 * keeps the filter, and can be paused. The filter matches the recipient, the message id, the MX
 * or the reply (`q`, case-insensitive) and the outcome.
 */
import { useState } from "preact/hooks";
import { usePolledJson } from "./poll.ts";
import type { VNode } from "preact";
import type { AttemptListBody } from "../core/api/schemas.ts";

/** One attempt as the API shows it. */
export type TailAttempt = AttemptListBody["items"][number];

/** What the tail shows. */
export interface TailFilter {
  outcome?: string;
  q?: string;
}

/** Whether `a` passes `filter`. */
export function matches(a: TailAttempt, filter: TailFilter): boolean {
  if (filter.outcome && a.outcome !== filter.outcome) return false;
  if (!filter.q) return true;
  const q = filter.q.toLowerCase();
  return [a.recipient, a.message_id, a.mx_host ?? "", a.reply ?? ""]
    .some((field) => field.toLowerCase().includes(q));
}

function time(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

/** The tail table. */
export function AttemptsTail(
  props: { initial: TailAttempt[]; filter: TailFilter; refreshMs?: number },
): VNode {
  const [attempts, setAttempts] = useState(props.initial);
  const [paused, setPaused] = useState(false);
  const { live, problem } = usePolledJson<AttemptListBody>(
    "/api/v1/attempts?limit=500",
    props.refreshMs ?? 2000,
    (body) => setAttempts(body.items.filter((a) => matches(a, props.filter)).slice(0, 200)),
    [paused],
    !paused,
  );
  return (
    <div>
      <p class="flex items-center gap-3 mb-2 text-sm">
        <button
          type="button"
          class="px-3 py-1 rounded bg-gray-800 text-white text-sm"
          aria-pressed={paused}
          onClick={() => setPaused(!paused)}
        >
          {paused ? "Resume tail" : "Pause tail"}
        </button>
        <span
          class={problem && !paused ? "text-red-700" : "text-gray-600"}
          data-tail={paused ? "paused" : live ? "live" : problem ? "error" : "snapshot"}
          role={problem && !paused ? "alert" : undefined}
        >
          {paused
            ? "Paused"
            : live
            ? "Live, every 2 s"
            : problem
            ? `Cannot refresh the log: ${problem}; retrying`
            : "Snapshot"}
        </span>
      </p>
      {attempts.length === 0
        ? <p class="text-gray-600">No delivery attempts match.</p>
        : (
          <div class="overflow-x-auto bg-white shadow rounded">
            <table class="w-full text-sm">
              <thead class="text-left text-gray-600">
                <tr>
                  <th scope="col" class="p-2">Time</th>
                  <th scope="col" class="p-2">Message</th>
                  <th scope="col" class="p-2">Recipient</th>
                  <th scope="col" class="p-2">Outcome</th>
                  <th scope="col" class="p-2">Reply</th>
                  <th scope="col" class="p-2">From IP</th>
                  <th scope="col" class="p-2">MX</th>
                </tr>
              </thead>
              <tbody>
                {attempts.map((a) => (
                  <tr class="border-t" data-attempt={a.message_id}>
                    <td class="p-2 whitespace-nowrap">{time(a.at)}</td>
                    <td class="p-2">
                      <a class="text-blue-700 underline" href={`/messages/${a.message_id}`}>
                        {a.message_id}
                      </a>
                    </td>
                    <td class="p-2">{a.recipient}</td>
                    <td class="p-2">{a.outcome}</td>
                    <td class="p-2 text-gray-600">{a.reply}</td>
                    <td class="p-2">{a.source_ip}</td>
                    <td class="p-2">{a.mx_host}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
    </div>
  );
}
