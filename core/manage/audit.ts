/**
 * The audit log: who changed what, when, through which face, before and after. Object changes
 * write their entry themselves, in the change's transaction (objects.ts). Other services (queue
 * operations, domains, keys) call `recordAudit` after their change, or, for an entry in the same
 * transaction, write it from their store repository with `insertAuditRow`
 * (core/store/config_objects.ts). Entries are JSON snake_case, newest first.
 */
import type { AuditRecord, ConfigObjectStore } from "../store/mod.ts";
import { isKind, KINDS } from "./kinds.ts";
import { redact } from "./secrets.ts";
import { type Actor, NotFoundError, type Page, ValidationError } from "./types.ts";

/** One audit entry as every face shows it. */
export interface AuditEntry {
  id: number;
  at: number;
  actor: string;
  role: string;
  channel: string;
  kind: string;
  object_id: string;
  /** create, update, delete, revert, or a queue action (retry, cancel, bounce, hold, …) */
  action: string;
  before: unknown;
  after: unknown;
  /** The cluster config version the change produced (0: no config object changed). */
  config_version: number;
}

/** What to record for an action that is not an object change. */
export interface AuditInput {
  kind: string;
  object_id: string;
  action: string;
  before?: unknown;
  after?: unknown;
  /** Defaults to now. */
  at?: number;
}

function parsed(json: string | null): unknown {
  if (json === null) return null;
  try {
    return JSON.parse(json);
  } catch {
    return json;
  }
}

/** A stored entry in its JSON form; secrets of config objects redacted unless `raw`. */
export function auditEntryOf(row: AuditRecord, raw = false): AuditEntry {
  const secrets = !raw && isKind(row.kind) ? KINDS[row.kind].secretPaths : undefined;
  return {
    id: row.id,
    at: row.at,
    actor: row.actor,
    role: row.role,
    channel: row.channel,
    kind: row.kind,
    object_id: row.objectId,
    action: row.action,
    before: redact(parsed(row.before), secrets),
    after: redact(parsed(row.after), secrets),
    config_version: row.configVersion,
  };
}

/** Records `actor`'s action (e.g. a queue retry) in the audit log. */
export async function recordAudit(
  store: Pick<ConfigObjectStore, "recordAudit">,
  actor: Actor,
  input: AuditInput,
): Promise<void> {
  await store.recordAudit({
    at: input.at ?? Date.now(),
    actor: actor.name,
    role: actor.role,
    channel: actor.channel,
    kind: input.kind,
    objectId: input.object_id,
    action: input.action,
    before: input.before === undefined ? null : JSON.stringify(input.before),
    after: input.after === undefined ? null : JSON.stringify(input.after),
  });
}

/** Filters and page of {@link listAudit}; `cursor` is the previous page's `next_cursor`. */
export interface AuditListOptions {
  cursor?: string;
  limit?: number;
  kind?: string;
  object_id?: string;
}

/** Audit entries, newest first. */
export async function listAudit(
  store: Pick<ConfigObjectStore, "listAudit">,
  options: AuditListOptions = {},
): Promise<Page<AuditEntry>> {
  const limit = Math.min(Math.max(1, options.limit ?? 100), 1000);
  let beforeId: number | undefined;
  if (options.cursor !== undefined) {
    beforeId = Number(options.cursor);
    if (!Number.isInteger(beforeId) || beforeId < 1) {
      throw new ValidationError([{ path: "cursor", message: "Expected a cursor from a page" }]);
    }
  }
  const rows = await store.listAudit({
    beforeId,
    limit: limit + 1,
    kind: options.kind,
    objectId: options.object_id,
  });
  const items = rows.slice(0, limit).map((row) => auditEntryOf(row));
  const page: Page<AuditEntry> = { items };
  if (rows.length > limit) page.next_cursor = String(items[items.length - 1].id);
  return page;
}

/** One entry (`raw`: with its secrets, for revert only); NotFoundError when there is none. */
export async function auditEntry(
  store: Pick<ConfigObjectStore, "auditEntry">,
  id: number,
  raw = false,
): Promise<AuditEntry> {
  const row = Number.isInteger(id) ? await store.auditEntry(id) : null;
  if (!row) throw new NotFoundError("audit entry", String(id));
  return auditEntryOf(row, raw);
}
