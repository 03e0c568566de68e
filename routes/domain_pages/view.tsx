/**
 * Sending domains and the suppression list in the console: the domains with a form for a new
 * one (generated from the API's create schema), one domain with its DKIM keys and the DNS
 * records to publish, and the suppression list with search, add, remove and CSV import/export.
 */
import type { VNode } from "preact";
import type { DnsRecord, DomainBody, SuppressionBody } from "../../core/api/manage_schemas.ts";
import type { StoredObject } from "../../core/manage/types.ts";
import type { DnsCheck } from "../../core/manage/dns_check.ts";
import { ActionForm } from "../_components/action_form.tsx";
import { formatTime } from "../_components/format.ts";
import { Layout } from "../_components/layout.tsx";
import { useCan, useSession } from "../_components/session.ts";
import { NextPageLink, Table } from "../_components/table.tsx";
import type { FormField } from "../config/fields.ts";
import { NewObjectSection } from "../config/form.tsx";
import { CaptionedControl, FIELD_INPUT } from "../_components/field.tsx";

/** `/domains`. */
export function DomainsPage(props: {
  domains: StoredObject<DomainBody>[];
  fields: FormField[];
  values: Record<string, string>;
  errors: Map<string, string[]>;
}): VNode {
  const can = useCan();
  return (
    <Layout title="Sending domains">
      <h1 class="text-2xl font-bold mb-4">Sending domains</h1>
      {props.domains.length === 0
        ? <p class="text-gray-700 mb-4" data-empty="yes">No sending domain yet.</p>
        : (
          <Table head={["Domain", "Bounce domain", "Signing key", "Changed"]}>
            {props.domains.map((d) => (
              <tr class="border-t" data-domain-row={d.id}>
                <td class="p-2">
                  <a class="text-blue-700 underline" href={`/domains/${d.id}`}>{d.id}</a>
                </td>
                <td class="p-2">{d.body.bounce_domain ?? "—"}</td>
                <td class="p-2">
                  {d.body.dkim_keys.filter((k) => !k.retired_at).map((k) => k.selector).join(", ")}
                </td>
                <td class="p-2 whitespace-nowrap">{formatTime(d.updated_at)}</td>
              </tr>
            ))}
          </Table>
        )}
      {can.administer && (
        <NewObjectSection
          heading="New domain (a DKIM key is generated)"
          action="/domains"
          fields={props.fields}
          values={props.values}
          errors={props.errors}
        />
      )}
    </Layout>
  );
}

/** `/domains/:name`: its keys and the records to publish. */
export function DomainPage(
  props: {
    domain: StoredObject<DomainBody>;
    records: DnsRecord[];
    created?: boolean;
    checks?: DnsCheck[];
  },
): VNode {
  const d = props.domain;
  return (
    <Layout title={d.id}>
      <p class="text-sm mb-1">
        <a href="/domains" class="text-blue-700 underline">Domains</a>
      </p>
      <h1 class="text-2xl font-bold mb-4 break-all">{d.id}</h1>
      {props.created && (
        <p class="bg-green-100 text-green-900 rounded p-2 mb-3" role="status">
          Created with a new DKIM key: publish the records below.
        </p>
      )}
      <h2 class="text-xl font-bold mb-2">DNS records to publish</h2>
      <Table head={["Purpose", "Type", "Name", "Value", "Note"]}>
        {props.records.map((r) => (
          <tr class="border-t" data-record={r.purpose}>
            <td class="p-2">{r.purpose}</td>
            <td class="p-2">{r.type}</td>
            <td class="p-2 break-all">{r.name}</td>
            <td class="p-2 font-mono text-xs break-all">{r.value}</td>
            <td class="p-2 text-gray-700">{r.note}</td>
          </tr>
        ))}
      </Table>
      <form method="get" action={`/domains/${d.id}`} class="mt-3">
        <input type="hidden" name="check" value="1" />
        <button type="submit" class="px-3 py-1 rounded bg-gray-800 text-white text-sm">
          Check DNS now
        </button>
      </form>
      {props.checks && (
        <section id="dns-check" class="mt-4">
          <h2 class="text-xl font-bold mb-2">Live DNS check</h2>
          <Table head={["Check", "Name", "Result", "Detail"]}>
            {props.checks.map((check) => (
              <tr class="border-t" data-check={check.what} data-ok={check.ok ? "yes" : "no"}>
                <td class="p-2">{check.what}</td>
                <td class="p-2 break-all">{check.name}</td>
                <td class={`p-2 font-semibold ${check.ok ? "text-green-800" : "text-red-700"}`}>
                  {check.ok ? "OK" : "Problem"}
                </td>
                <td class="p-2">{check.detail}</td>
              </tr>
            ))}
          </Table>
        </section>
      )}
      <h2 class="text-xl font-bold mt-6 mb-2">DKIM keys</h2>
      <Table head={["Selector", "Algorithm", "Created", "Retired"]}>
        {d.body.dkim_keys.map((k) => (
          <tr class="border-t">
            <td class="p-2">{k.selector}</td>
            <td class="p-2">{k.algorithm}</td>
            <td class="p-2 whitespace-nowrap">{formatTime(k.created_at)}</td>
            <td class="p-2">{k.retired_at ? formatTime(k.retired_at) : "signing"}</td>
          </tr>
        ))}
      </Table>
    </Layout>
  );
}

/** `/suppressions`. */
export function SuppressionsPage(props: {
  items: SuppressionBody[];
  nextCursor?: string;
  q: string;
  notice?: string;
  error?: string;
}): VNode {
  const can = useCan();
  const session = useSession();
  return (
    <Layout title="Suppressions">
      <h1 class="text-2xl font-bold mb-4">Suppression list</h1>
      {props.notice && (
        <p class="bg-green-100 text-green-900 rounded p-2 mb-3" role="status">{props.notice}</p>
      )}
      {props.error && <p class="text-red-700 mb-3" role="alert" data-error="form">{props.error}</p>}
      <form
        method="get"
        action="/suppressions"
        class="flex flex-wrap gap-2 items-end mb-4"
        role="search"
      >
        <CaptionedControl label="Address starts with">
          <input name="q" value={props.q} class="border rounded px-2 py-1" type="search" />
        </CaptionedControl>
        <button type="submit" class="px-3 py-1 rounded bg-gray-800 text-white text-sm">
          Search
        </button>
        <a href="/suppressions.csv" class="text-blue-700 underline text-sm">Export CSV</a>
      </form>
      {props.items.length === 0
        ? <p class="text-gray-700" data-empty="yes">No suppressed address.</p>
        : (
          <Table head={["Address", "Scope", "Source", "Reason", "Since", "Expires", ""]}>
            {props.items.map((s) => (
              <tr class="border-t" data-suppression={s.address}>
                <td class="p-2 break-all">{s.address}</td>
                <td class="p-2">{s.scope || "every domain"}</td>
                <td class="p-2">{s.source}</td>
                <td class="p-2">{s.reason}</td>
                <td class="p-2 whitespace-nowrap">{formatTime(s.created_at)}</td>
                <td class="p-2 whitespace-nowrap">
                  {s.expires_at ? formatTime(s.expires_at) : "never"}
                </td>
                <td class="p-2">
                  {can.operate && (
                    <ActionForm
                      action="/suppressions/remove"
                      label="Remove"
                      hidden={{ address: s.address, scope: s.scope }}
                    />
                  )}
                </td>
              </tr>
            ))}
          </Table>
        )}
      {props.nextCursor && (
        <NextPageLink
          href={`/suppressions?q=${encodeURIComponent(props.q)}&cursor=${
            encodeURIComponent(props.nextCursor)
          }`}
          label="Next page"
        />
      )}
      {can.operate && (
        <div class="grid gap-4 lg:grid-cols-2 mt-6">
          <form method="post" action="/suppressions" class="bg-white shadow rounded p-3 grid gap-2">
            <h2 class="font-bold">Add</h2>
            <input type="hidden" name="_csrf" value={session?.csrfToken ?? ""} />
            <CaptionedControl label="Address">
              <input name="address" required class={FIELD_INPUT} />
            </CaptionedControl>
            <CaptionedControl label="Only for sending domain (empty: every one)">
              <input name="scope" class={FIELD_INPUT} />
            </CaptionedControl>
            <CaptionedControl label="Reason">
              <input name="reason" class={FIELD_INPUT} />
            </CaptionedControl>
            <button type="submit" class="px-3 py-1 rounded bg-gray-800 text-white text-sm">
              Suppress
            </button>
          </form>
          <form
            method="post"
            action="/suppressions/import"
            enctype="multipart/form-data"
            class="bg-white shadow rounded p-3 grid gap-2"
          >
            <h2 class="font-bold">Import CSV (all rows or none)</h2>
            <input type="hidden" name="_csrf" value={session?.csrfToken ?? ""} />
            <CaptionedControl label="CSV file with an address column (scope, source, reason, expires_at optional)">
              <input name="file" type="file" accept=".csv,text/csv" class={FIELD_INPUT} />
            </CaptionedControl>
            <button type="submit" class="px-3 py-1 rounded bg-gray-800 text-white text-sm">
              Import
            </button>
          </form>
        </div>
      )}
    </Layout>
  );
}
