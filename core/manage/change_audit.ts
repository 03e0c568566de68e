/**
 * How the domain and suppression services write the audit log (audit.ts): one entry per
 * change, after it, with the object's body (never a secret: public keys only) or a short note.
 */
import type { ConfigObjectStore } from "../store/mod.ts";
import { recordAudit } from "./audit.ts";
import type { Actor } from "./types.ts";

/** One change to record. */
export interface ChangeNote {
  actor: Actor;
  action: string;
  kind: string;
  id: string;
  version?: number;
  /** A short, secret-free summary ("new selector s2", "42 entries"). */
  detail?: string;
  before?: unknown;
  after?: unknown;
}

/** Writes `note` to the audit log. */
export async function auditChange(
  store: Pick<ConfigObjectStore, "recordAudit">,
  note: ChangeNote,
): Promise<void> {
  const summary = note.version !== undefined || note.detail !== undefined
    ? { version: note.version, detail: note.detail }
    : undefined;
  await recordAudit(store, note.actor, {
    kind: note.kind,
    object_id: note.id,
    action: note.action,
    before: note.before,
    after: note.after ?? summary,
  });
}
