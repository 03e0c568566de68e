/**
 * The seam between the configuration services and the audit log: every change is reported as
 * one entry through an {@link Audit} function. The `manage-core` branch brings the stored,
 * queryable audit log; until it is merged in, {@link logAudit} writes the entry to the log (no
 * secret ever goes in `detail`).
 */
import { log } from "../log.ts";
import type { Actor } from "./types.ts";

/** One change: who did what to which object, and the version it left. */
export interface AuditEntry {
  actor: Actor;
  /** e.g. "create", "update", "remove", "rotate", "import". */
  action: string;
  kind: string;
  id: string;
  version?: number;
  /** A short, secret-free summary (e.g. "selector s2026", "42 entries"). */
  detail?: string;
}

/** Records an audit entry. */
export type Audit = (entry: AuditEntry) => Promise<void>;

/** The audit the services use until the stored audit log is there: one log line per change. */
export const logAudit: Audit = (entry) => {
  const { actor, action, kind, id, version, detail } = entry;
  log(
    "audit",
    `${actor.name} (${actor.channel}) ${action} ${kind} "${id}"` +
      (version === undefined ? "" : ` v${version}`) + (detail ? ` (${detail})` : ""),
  );
  return Promise.resolve();
};
