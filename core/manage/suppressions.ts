/**
 * The suppression list as a managed object: entries with a reason, a source (api, cli, bounce,
 * complaint, unsubscribe, import), a scope (every sending domain, or one) and an optional
 * expiry; add, remove, list, CSV import and export, each audited. The delivery stage reads the
 * list per unit (core/bounce/suppression.ts, not cached), so an entry added here holds for the
 * next message on every node.
 *
 * Talks to: the store (suppression_entries).
 */
import {
  type SuppressionBody,
  type SuppressionCreate,
  SuppressionCreateSchema,
} from "../api/manage_schemas.ts";
import type {
  ConfigObjectStore,
  Suppression,
  SuppressionSource,
  SuppressionStore,
} from "../store/mod.ts";
import { auditChange, type ChangeNote } from "./change_audit.ts";
import { READERS, requireRole } from "./roles.ts";
import { type Actor, NotFoundError, type Page, type Role, ValidationError } from "./types.ts";
import { validated } from "./validate.ts";
import { SUPPRESSION_SOURCES } from "../store/mod.ts";

const KIND = "suppression";
const WRITERS: readonly Role[] = ["admin", "operator"];
const EXPORT_BATCH = 5000;

/** What the suppression service needs. */
export interface SuppressionServiceOptions {
  store: SuppressionStore & Pick<ConfigObjectStore, "recordAudit">;
  now?: () => number;
}

/** The body of one entry, as the API shows it. */
export function suppressionBody(s: Suppression): SuppressionBody {
  return {
    address: s.address,
    scope: s.scope ?? "",
    category: s.category,
    source: publicSource(s.source),
    code: s.code,
    reason: s.reason,
    message_id: s.messageId,
    created_at: s.createdAt,
    expires_at: s.expiresAt,
    created_by: s.createdBy ?? null,
  };
}

/** The API's source names: a hard bounce's "smtp" (a reply) and "dsn" (a report) are "bounce". */
function publicSource(source: string | null | undefined): SuppressionSource {
  const known = SUPPRESSION_SOURCES as readonly string[];
  return source && known.includes(source) ? source as SuppressionSource : "bounce";
}

/** The suppression list service. */
export class SuppressionService {
  readonly kind = KIND;
  readonly #o: SuppressionServiceOptions;
  readonly #now: () => number;
  readonly #audit = (note: ChangeNote) => auditChange(this.#o.store, note);

  constructor(options: SuppressionServiceOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** Active entries in address order; `cursor` from the previous page. */
  async list(
    options: { cursor?: string; limit?: number; address_prefix?: string; scope?: string },
    actor: Actor,
  ): Promise<Page<SuppressionBody>> {
    requireRole(actor, READERS, "read the suppression list");
    const limit = Math.min(Math.max(options.limit ?? 100, 1), 1000);
    const rows = await this.#o.store.listSuppressions(this.#now(), limit + 1, {
      addressPrefix: options.address_prefix,
      scope: options.scope,
      after: options.cursor ? decodeCursor(options.cursor) : undefined,
    });
    const items = rows.slice(0, limit).map(suppressionBody);
    const last = items.at(-1);
    return rows.length > limit && last
      ? { items, next_cursor: encodeCursor(last.address, last.scope) }
      : { items };
  }

  /** Adds (or replaces) one entry. */
  async add(input: unknown, actor: Actor): Promise<SuppressionBody> {
    requireRole(actor, WRITERS, "change the suppression list");
    const entry = this.#entry(validated(SuppressionCreateSchema, input), actor, sourceOf(actor));
    await this.#o.store.addSuppressions([entry]);
    await this.#audit({
      actor,
      action: "create",
      kind: KIND,
      id: scoped(entry.address, entry.scope),
      detail: `source ${entry.source}`,
    });
    return suppressionBody(entry);
  }

  /** Removes an address (from one scope, or from all when `scope` is not given). */
  async remove(address: string, actor: Actor, options: { scope?: string } = {}): Promise<void> {
    requireRole(actor, WRITERS, "change the suppression list");
    if (!await this.#o.store.removeSuppression(address, options.scope)) {
      throw new NotFoundError(KIND, scoped(address.toLowerCase(), options.scope));
    }
    await this.#audit({
      actor,
      action: "remove",
      kind: KIND,
      id: scoped(address.toLowerCase(), options.scope),
    });
  }

  /** Imports CSV rows (all or nothing); returns how many entries were stored. */
  async importCsv(text: string, actor: Actor): Promise<number> {
    requireRole(actor, WRITERS, "change the suppression list");
    // import(): the CSV libraries (~2 MB of heap) load on the first import or export only.
    const { suppressionsFromCsv } = await import("./suppression_csv.ts");
    const rows = suppressionsFromCsv(text);
    const entries = rows.map((row) => this.#entry(row, actor, "import"));
    await this.#o.store.addSuppressions(entries);
    await this.#audit({
      actor,
      action: "import",
      kind: KIND,
      id: "*",
      detail: `${entries.length} entries`,
    });
    return entries.length;
  }

  /** Every active entry as CSV. */
  async exportCsv(actor: Actor): Promise<string> {
    requireRole(actor, READERS, "read the suppression list");
    const now = this.#now();
    const all: Suppression[] = [];
    let after: { address: string; scope: string } | undefined;
    for (;;) {
      const batch = await this.#o.store.listSuppressions(now, EXPORT_BATCH, { after });
      all.push(...batch);
      const last = batch.at(-1);
      if (batch.length < EXPORT_BATCH || !last) break;
      after = { address: last.address, scope: last.scope ?? "" };
    }
    const { suppressionsToCsv } = await import("./suppression_csv.ts");
    return suppressionsToCsv(all);
  }

  #entry(request: SuppressionCreate, actor: Actor, source: SuppressionSource): Suppression {
    return {
      address: request.address,
      scope: request.scope,
      category: "manual",
      source: request.source ?? source,
      code: null,
      reason: request.reason,
      messageId: null,
      createdAt: this.#now(),
      expiresAt: request.expires_at,
      createdBy: actor.name,
    };
  }
}

function sourceOf(actor: Actor): SuppressionSource {
  return actor.channel === "cli" ? "cli" : "api";
}

function scoped(address: string, scope: string | undefined): string {
  return scope ? `${address} (${scope})` : address;
}

function encodeCursor(address: string, scope: string): string {
  return btoa(JSON.stringify([address, scope])).replace(/=+$/, "");
}

function decodeCursor(cursor: string): { address: string; scope: string } {
  try {
    const [address, scope] = JSON.parse(atob(cursor));
    if (typeof address === "string" && typeof scope === "string") return { address, scope };
  } catch {
    // fall through
  }
  throw new ValidationError([{ path: "cursor", message: "not a cursor from a previous page" }]);
}
