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
  // Object literals with every key in one order, not a spread of shared fields per row: the
  // INSERT takes its columns from the first row, and a spread cost each row ~0.2 µs more.
  for (const o of outcomes) {
    const node = o.nodeId ?? nodeId;
    const site = o.site ?? null;
    const pool = o.pool ?? null;
    for (const t of o.tries ?? []) {
      rows.push({
        message_id: o.messageId,
        unit_id: o.unitId,
        domain: o.domain,
        node_id: node,
        site,
        pool,
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
    const tls = o.tls ? 1 : 0;
    const tlsVersion = o.tlsVersion ?? null;
    const tlsVerified = o.tlsVerified ? 1 : 0;
    const durationMs = Math.round(o.durationMs);
    for (const r of o.results) {
      rows.push({
        message_id: o.messageId,
        unit_id: o.unitId,
        domain: o.domain,
        node_id: node,
        site,
        pool,
        at: o.at,
        recipient: r.address,
        outcome: r.outcome,
        code: r.code,
        reply: r.reply,
        source_ip: o.sourceIp,
        mx_host: o.mxHost,
        remote_ip: o.remoteIp,
        tls,
        tls_version: tlsVersion,
        tls_verified: tlsVerified,
        duration_ms: durationMs,
        reason: r.outcome === "deferred" && o.kind === "deferred" ? o.reason : null,
        category: r.category ?? null,
      });
    }
  }
  return rows;
}
