/**
 * The managed TLS certificates on /config/tls: the stored ones (subject, names, expiry; the key
 * only as "set") with a delete link to a confirmation, and, for admins, the upload form (paste
 * or choose a file for the chain and the key). The key typed is never rendered back: a form
 * shown again after an error asks for it again.
 */
import type { VNode } from "preact";
import type { CertificateSummary } from "../../core/manage/tls_certificate_kind.ts";
import { ActionLink } from "../_components/action_form.tsx";
import { formatTime } from "../_components/format.ts";
import { useSession } from "../_components/session.ts";
import { Table } from "../_components/table.tsx";

const INPUT = "border rounded px-2 py-1 w-full focus:outline-none focus:ring-2 focus:ring-blue-500";

/** One stored certificate as listed. */
export interface ManagedRow {
  name: string;
  version: number;
  summary: CertificateSummary | null;
  updatedBy: string;
}

/** What the upload form shows again after a refused upload. */
export interface UploadState {
  name?: string;
  certificate?: string;
  errors?: Map<string, string>;
  saved?: string;
}

/** `/config/tls/delete?name=` and the like (names are safe in a query once encoded). */
export function tlsHref(action: "delete", name: string): string {
  return `/config/tls/${action}?name=${encodeURIComponent(name)}`;
}

function FieldError(props: { id: string; message?: string }): VNode | null {
  if (!props.message) return null;
  return <p id={props.id} class="text-sm text-red-700" data-error-for={props.id}>{props.message}
  </p>;
}

function UploadForm(props: { state: UploadState }): VNode {
  const session = useSession();
  const errors = props.state.errors ?? new Map<string, string>();
  const invalid = (field: string) => errors.has(field) ? true as const : undefined;
  return (
    <form
      method="post"
      action="/config/tls"
      enctype="multipart/form-data"
      class="bg-white shadow rounded p-4 grid gap-3 max-w-3xl"
      data-form="tls-upload"
    >
      <h2 class="text-lg font-semibold">Upload a certificate</h2>
      <input type="hidden" name="_csrf" value={session?.csrfToken ?? ""} />
      <FieldError id="err-general" message={errors.get("")} />
      <label class="grid gap-1">
        <span class="font-medium">Name</span>
        <input
          name="name"
          class={INPUT}
          required
          value={props.state.name ?? ""}
          aria-invalid={invalid("name")}
          aria-describedby={errors.has("name") ? "err-name" : undefined}
        />
      </label>
      <FieldError id="err-name" message={errors.get("name")} />
      <label class="grid gap-1">
        <span class="font-medium">Certificate chain (PEM, the server's certificate first)</span>
        <textarea
          name="certificate"
          rows={5}
          class={INPUT + " font-mono text-xs"}
          placeholder="-----BEGIN CERTIFICATE-----"
          aria-invalid={invalid("certificate")}
          aria-describedby={errors.has("certificate") ? "err-certificate" : undefined}
        >
          {props.state.certificate ?? ""}
        </textarea>
        <span class="text-sm text-gray-700">or a file:</span>
        <input type="file" name="certificate_file" accept=".pem,.crt,.cer" />
      </label>
      <FieldError id="err-certificate" message={errors.get("certificate")} />
      <label class="grid gap-1">
        <span class="font-medium">Private key (PEM, unencrypted)</span>
        <textarea
          name="private_key"
          rows={4}
          class={INPUT + " font-mono text-xs"}
          placeholder="-----BEGIN PRIVATE KEY-----"
          autocomplete="off"
          aria-invalid={invalid("private_key")}
          aria-describedby={errors.has("private_key") ? "err-private_key" : undefined}
        >
        </textarea>
        <span class="text-sm text-gray-700">or a file:</span>
        <input type="file" name="private_key_file" accept=".pem,.key" />
      </label>
      <FieldError id="err-private_key" message={errors.get("private_key")} />
      <label class="flex gap-2 items-center">
        <input type="checkbox" name="replace" value="yes" />
        <span>
          Replace the certificate of this name if there is one (its listeners switch to the new one
          on every node)
        </span>
      </label>
      <div>
        <button
          type="submit"
          class="px-4 py-2 rounded bg-blue-700 text-white hover:bg-blue-800 focus:outline-none focus:ring-2 focus:ring-blue-500"
        >
          Upload
        </button>
      </div>
    </form>
  );
}

/** The stored certificates and, for an admin, the upload form. */
export function ManagedCertificates(
  props: { rows: ManagedRow[]; canWrite: boolean; state: UploadState },
): VNode {
  return (
    <section class="mt-8 grid grid-cols-1 gap-4" aria-labelledby="managed">
      <h2 id="managed" class="text-xl font-bold">Uploaded certificates</h2>
      <p class="text-sm text-gray-700">
        Stored in the database and written by every node to its data folder. A listener serves one
        when its <code>tls_certificate</code>{" "}
        names it (Listeners); replacing it rebinds those listeners within seconds, no restart.
      </p>
      {props.state.saved && <p class="text-green-800" role="status">{props.state.saved}</p>}
      {props.rows.length === 0
        ? <p class="text-gray-700" data-managed-empty="yes">None uploaded.</p>
        : (
          <Table head={["Name", "Subject", "Names (SAN)", "Expires", "Key", ""]} caption="Uploaded">
            {props.rows.map((r) => (
              <tr key={r.name} class="border-t align-top" data-managed={r.name}>
                <td class="p-2">
                  {r.name} <span class="text-xs text-gray-600">v{r.version}</span>
                </td>
                <td class="p-2 break-all">{r.summary?.subject ?? "(does not parse)"}</td>
                <td class="p-2 break-all">{(r.summary?.san ?? []).join(", ")}</td>
                <td class="p-2">{r.summary ? formatTime(r.summary.validTo) : "—"}</td>
                <td class="p-2" data-key="set">set</td>
                <td class="p-2">
                  {props.canWrite && (
                    <ActionLink href={tlsHref("delete", r.name)} label="Delete" danger />
                  )}
                </td>
              </tr>
            ))}
          </Table>
        )}
      {props.canWrite && <UploadForm state={props.state} />}
    </section>
  );
}
