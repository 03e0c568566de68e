/** Message list and one message's recipients and attempts. */
import type { VNode } from "preact";
import type { BounceReportListBody } from "../../core/api/schemas.ts";
import type { MessageSummary } from "../../core/store/mod.ts";
import type { MessageDetail } from "../../core/queue/quarantine.ts";
import { AttemptsTable } from "../_components/attempts_table.tsx";
import { formatTime } from "../_components/format.ts";
import { Layout } from "../_components/layout.tsx";
import type { QueueUnitBody } from "../../core/api/queue_ops.ts";
import { QueueFilterSchema } from "../../core/api/queue_ops.ts";
import { formFields } from "../config/fields.ts";
import { SearchForm, WhyPanel } from "../queue_pages/view.tsx";
import { UnitsPanel } from "./units_view.tsx";
import { DkimPanel, HeadersPanel } from "./details_view.tsx";
import type { MessageDetails } from "../../core/manage/message_details.ts";

/** Newest messages first, paged with `?before=ID`. */
export function MessagesPage(
  props: { messages: MessageSummary[]; limit: number },
): VNode {
  const last = props.messages[props.messages.length - 1];
  return (
    <Layout title="Messages">
      <h1 class="text-2xl font-bold mb-4">Messages</h1>
      <SearchForm fields={formFields(QueueFilterSchema)} values={{}} errors={new Map()} />
      {props.messages.length === 0
        ? <p class="text-gray-600">No messages.</p>
        : (
          <div class="overflow-x-auto bg-white shadow rounded">
            <table class="w-full text-sm">
              <thead class="text-left text-gray-600">
                <tr>
                  <th class="p-2">Queue id</th>
                  <th class="p-2">Received</th>
                  <th class="p-2">Sender</th>
                  <th class="p-2">Recipients</th>
                  <th class="p-2">Pending</th>
                  <th class="p-2">Failed</th>
                  <th class="p-2">Size</th>
                </tr>
              </thead>
              <tbody>
                {props.messages.map((m) => (
                  <tr class="border-t">
                    <td class="p-2">
                      <a class="text-blue-700 hover:underline" href={`/messages/${m.id}`}>{m.id}</a>
                    </td>
                    <td class="p-2 whitespace-nowrap">{formatTime(m.createdAt)}</td>
                    <td class="p-2">{m.sender || "<>"}</td>
                    <td class="p-2">{m.recipients}</td>
                    <td class="p-2">{m.pending}</td>
                    <td class="p-2">{m.failed}</td>
                    <td class="p-2">{m.size}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      {last && props.messages.length === props.limit && (
        <a
          class="inline-block mt-4 text-blue-700 hover:underline"
          href={`/messages?before=${last.id}`}
        >
          Older →
        </a>
      )}
    </Layout>
  );
}

/** The reports received about a message (bounces, complaints), newest first. */
function ReportsTable(props: { reports: BounceReportListBody["reports"] }): VNode {
  return (
    <div class="overflow-x-auto bg-white shadow rounded mb-6">
      <table class="w-full text-sm">
        <thead class="text-left text-gray-600">
          <tr>
            <th class="p-2">Received</th>
            <th class="p-2">Kind</th>
            <th class="p-2">Recipient</th>
            <th class="p-2">Status</th>
            <th class="p-2">Detail</th>
          </tr>
        </thead>
        <tbody>
          {props.reports.map((r) => (
            <tr class="border-t" data-report={r.id}>
              <td class="p-2">{formatTime(r.received_at)}</td>
              <td class="p-2" data-kind={r.kind ?? ""}>{r.kind}</td>
              <td class="p-2">{r.recipient}</td>
              <td class="p-2">{[r.status, r.category].filter((x) => x).join(" ")}</td>
              <td class="p-2 text-gray-600">{r.detail}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** One message. */
export function MessagePage(
  props: {
    message: MessageDetail;
    reports?: BounceReportListBody["reports"];
    /** Its units as queue search shows them (the why-line); absent where not served. */
    units?: QueueUnitBody[];
    /** Headers, DKIM and rules (absent where the store cannot read bodies, null once freed). */
    details?: MessageDetails | null;
  },
): VNode {
  const m = props.message;
  return (
    <Layout title={`Message ${m.id}`}>
      <h1 class="text-2xl font-bold mb-2">Message {m.id}</h1>
      <p class="text-gray-600 mb-4">
        From {m.sender || "<>"} · {m.size} bytes · received {formatTime(m.createdAt)} via{" "}
        {m.channel}
      </p>
      {props.units && (
        <WhyPanel
          messageId={m.id}
          units={props.units}
          rules={props.details?.rules}
        />
      )}
      <UnitsPanel message={m} />
      <h2 class="text-xl font-bold mb-2">Recipients</h2>
      <div class="overflow-x-auto bg-white shadow rounded mb-6">
        <table class="w-full text-sm">
          <thead class="text-left text-gray-600">
            <tr>
              <th class="p-2">Address</th>
              <th class="p-2">State</th>
              <th class="p-2">Attempts</th>
              <th class="p-2">Last reply</th>
            </tr>
          </thead>
          <tbody>
            {m.recipients.map((r) => (
              <tr class="border-t">
                <td class="p-2">{r.address}</td>
                <td class="p-2" data-state={r.state}>{r.state}</td>
                <td class="p-2">{r.attempts}</td>
                <td class="p-2 text-gray-600">{r.last_reply}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {props.reports && props.reports.length > 0 && (
        <>
          <h2 class="text-xl font-bold mb-2">Bounce and complaint reports</h2>
          <ReportsTable reports={props.reports} />
        </>
      )}
      {props.details && <DkimPanel details={props.details} />}
      <h2 class="text-xl font-bold mb-2">Attempts</h2>
      <AttemptsTable
        showMessage={false}
        attempts={m.attempts.map((a) => ({
          at: a.at,
          messageId: m.id,
          recipient: a.recipient,
          outcome: a.outcome,
          code: a.code,
          reply: a.reply,
          sourceIp: a.source_ip,
          mxHost: a.mx_host,
          durationMs: a.duration_ms,
          tls: a.tls
            ? `${a.tls_version ?? "TLS"}${
              a.tls_verified ? ", certificate verified" : ", not verified"
            }`
            : "none",
        }))}
      />
      {props.details && <HeadersPanel details={props.details} />}
      {props.details === null && (
        <p class="text-gray-700 mt-6" data-headers="freed">
          The body is no longer kept: the spool frees a settled message's body after
          database.body_spool_keep.
        </p>
      )}
    </Layout>
  );
}
