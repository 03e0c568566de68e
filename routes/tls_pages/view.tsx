/** The listeners' TLS certificates: subject, names, expiry (soon or past: marked). */
import type { VNode } from "preact";
import type { ListenerCertificate } from "../../core/manage/tls_certificates.ts";
import { formatTime } from "../_components/format.ts";
import { Layout } from "../_components/layout.tsx";
import { Table } from "../_components/table.tsx";
import { ManagedCertificates, type ManagedRow, type UploadState } from "./managed.tsx";

const DAY = 86_400_000;

function Expiry(props: { validTo?: number; now: number }): VNode {
  if (props.validTo === undefined) return <span>—</span>;
  const days = Math.floor((props.validTo - props.now) / DAY);
  const state = days < 0 ? "expired" : days < 21 ? "soon" : "ok";
  const note = days < 0 ? "expired" : `${days} days left`;
  return (
    <span
      data-expiry={state}
      class={state === "ok" ? "" : "font-semibold text-red-700"}
    >
      {formatTime(props.validTo)} ({note})
    </span>
  );
}

/** `/config/tls`. */
export function TlsPage(props: {
  rows: ListenerCertificate[];
  now: number;
  managed: { rows: ManagedRow[]; canWrite: boolean; state: UploadState };
}): VNode {
  return (
    <Layout title="TLS certificates">
      <p class="text-sm mb-1">
        <a href="/config" class="text-blue-700 underline">Configuration</a>
        {" · "}
        <a href="/config/listener" class="text-blue-700 underline">Listeners</a>
      </p>
      <h1 class="text-2xl font-bold mb-2">TLS certificates</h1>
      <p class="text-sm text-gray-700 mb-4">
        The certificate each SMTP listener serves. Upload a certificate below and name it in a
        listener's{" "}
        <code>tls_certificate</code>, or set a listener's own certificate and key files on its
        object (Listeners, read on this node); the listener takes it without a restart. Without
        either it serves the node's <code>smtp.tls</code> pair.
      </p>
      {props.rows.length === 0
        ? <p class="text-gray-700" data-empty="yes">No SMTP listener.</p>
        : (
          <Table
            head={["Listener", "Certificate file", "Subject", "Names (SAN)", "Expires"]}
            caption="TLS certificates of the SMTP listeners"
          >
            {props.rows.map((r) => (
              <tr
                key={`${r.source}-${r.node ?? ""}-${r.listener}`}
                class="border-t align-top"
                data-listener={r.listener}
              >
                <td class="p-2 whitespace-nowrap">
                  {r.listener}
                  <span class="block text-xs text-gray-600">
                    {r.source === "file" ? "configuration file" : "listener object"}
                    {r.node ? ` on ${r.node}` : ""}
                  </span>
                </td>
                <td class="p-2 break-all">
                  {r.certFile}
                  {r.isDefault && (
                    <span class="block text-xs text-gray-600">smtp.tls (default)</span>
                  )}
                </td>
                {r.error
                  ? <td class="p-2 text-red-700" colSpan={3} data-cert-error="yes">{r.error}</td>
                  : (
                    <>
                      <td class="p-2 break-all" data-subject="yes">{r.subject}</td>
                      <td class="p-2 break-all" data-san="yes">{(r.san ?? []).join(", ")}</td>
                      <td class="p-2">
                        <Expiry validTo={r.validTo} now={props.now} />
                      </td>
                    </>
                  )}
              </tr>
            ))}
          </Table>
        )}
      <ManagedCertificates {...props.managed} />
    </Layout>
  );
}
