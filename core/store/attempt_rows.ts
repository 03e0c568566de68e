/**
 * The delivery log's rows for a batch of outcomes (settle writes them first thing in its
 * transaction, whether or not the outcomes still own their units). Private to core/store/.
 */
import type { Insertable } from "kysely";
import type { UnitOutcome } from "../contracts/mod.ts";
import type { AttemptsTable } from "./tables.ts";

/** The delivery-log rows of a batch of outcomes: every try, then every recipient's result. */
export function attemptRowsOf(outcomes: UnitOutcome[], nodeId: string | null) {
  const rows: Insertable<AttemptsTable>[] = [];
  for (const o of outcomes) {
    const common = {
      message_id: o.messageId,
      unit_id: o.unitId,
      domain: o.domain,
      node_id: o.nodeId ?? nodeId,
      site: o.site ?? null,
      pool: o.pool ?? null,
    };
    for (const t of o.tries ?? []) {
      rows.push({
        ...common,
        at: t.at,
        recipient: "",
        outcome: "tried",
        code: t.code,
        reply: t.reply,
        source_ip: t.sourceIp,
        mx_host: t.mxHost,
        remote_ip: t.remoteIp,
        tls: 0,
        tls_version: null,
        tls_verified: 0,
        duration_ms: Math.round(t.durationMs),
        reason: null,
        category: null,
      });
    }
    for (const r of o.results) {
      rows.push({
        ...common,
        at: o.at,
        recipient: r.address,
        outcome: r.outcome,
        code: r.code,
        reply: r.reply,
        source_ip: o.sourceIp,
        mx_host: o.mxHost,
        remote_ip: o.remoteIp,
        tls: o.tls ? 1 : 0,
        tls_version: o.tlsVersion ?? null,
        tls_verified: o.tlsVerified ? 1 : 0,
        duration_ms: Math.round(o.durationMs),
        reason: r.outcome === "deferred" && o.kind === "deferred" ? o.reason : null,
        category: r.category ?? null,
      });
    }
  }
  return rows;
}
