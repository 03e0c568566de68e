/**
 * The suppression list: addresses not sent to, for every sending domain (scope "") or for one
 * (scope = the domain's name, which also covers its subdomains as senders). Entries come from
 * hard bounces, complaints, unsubscribes and operators; each has an optional expiry (null:
 * never). Addresses and scopes are kept lower-cased.
 */
import { chunks, inList, LIST_CHUNK, type SqlContext } from "./_sql.ts";
import { CompiledOnce } from "./compiled_once.ts";
import type { SuppressionEntriesTable } from "./tables.ts";

/** Where an entry came from. */
export type SuppressionSource = "bounce" | "complaint" | "unsubscribe" | "api" | "cli" | "import";
export const SUPPRESSION_SOURCES: readonly SuppressionSource[] = [
  "bounce",
  "complaint",
  "unsubscribe",
  "api",
  "cli",
  "import",
];

/** An address on the suppression list. */
export interface Suppression {
  address: string;
  /** "" (the default): every sending domain; else the sending domain it applies to. */
  scope?: string;
  /** The bounce category, or "manual" for entries an operator made. */
  category: string;
  /** Default "bounce"; hard bounces also say "smtp" (a reply) or "dsn" (an async bounce). */
  source?: SuppressionSource | string | null;
  code: number | null;
  reason: string | null;
  messageId: string | null;
  createdAt: number;
  /** Null: never expires. */
  expiresAt: number | null;
  /** Who added it (an actor name), when a person did. */
  createdBy?: string | null;
}

/** Options of {@link SuppressionStore.listSuppressions}. */
export interface SuppressionListOptions {
  /** Only entries whose address starts with this (lower-cased). */
  addressPrefix?: string;
  /** Only this scope. */
  scope?: string;
  /** Entries after this (address, scope) in address order: the next page. */
  after?: { address: string; scope: string };
}

/** What bounce handling, delivery screening and the management plane take. */
export interface SuppressionStore {
  /**
   * The active suppressions among `addresses` (compared lower-cased) that apply to mail from
   * `senderDomain`: global ones, and those scoped to it or to a parent domain of it.
   */
  suppressions(addresses: string[], now: number, senderDomain?: string): Promise<Suppression[]>;
  /** Adds or replaces suppressions (by address and scope). */
  addSuppressions(entries: Suppression[]): Promise<void>;
  /** Removes an address (in one scope, or in every scope); false when it was not there. */
  removeSuppression(address: string, scope?: string): Promise<boolean>;
  /** Active suppressions in address order (then scope), at most `limit`. */
  listSuppressions(
    now: number,
    limit: number,
    options?: SuppressionListOptions,
  ): Promise<Suppression[]>;
}

function suppressionOf(row: SuppressionEntriesTable): Suppression {
  return {
    address: row.address,
    scope: row.scope,
    category: row.category,
    source: row.source,
    code: row.code === null ? null : Number(row.code),
    reason: row.reason,
    messageId: row.message_id,
    createdAt: Number(row.created_at),
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
    createdBy: row.created_by,
  };
}

/** The scopes that apply to mail from `domain`: "", the domain and each parent domain. */
export function scopesFor(domain: string | undefined): string[] {
  const scopes = [""];
  const labels = (domain ?? "").toLowerCase().split(".").filter(Boolean);
  for (let i = 0; i < labels.length - 1; i++) scopes.push(labels.slice(i).join("."));
  return scopes;
}

/** Every column by name: a prepared `select *` would break when a migration adds one. */
const SUPPRESSION_COLUMNS = [
  "address",
  "scope",
  "category",
  "source",
  "code",
  "reason",
  "message_id",
  "created_at",
  "expires_at",
  "created_by",
] as const;

/** Once per lease batch and sending domain (compiled once: compiled_once.ts). */
const SUPPRESSIONS = new CompiledOnce((
  db,
  dialect,
  addresses: string[],
  scopes: string[],
  now: number,
) =>
  db.selectFrom("suppression_entries").select(SUPPRESSION_COLUMNS)
    .where(inList(dialect, "address", addresses))
    .where(inList(dialect, "scope", scopes))
    .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", now)]))
);

async function suppressions(
  { db, dialect }: SqlContext,
  addresses: string[],
  now: number,
  senderDomain?: string,
): Promise<Suppression[]> {
  if (addresses.length === 0) return [];
  const wanted = [...new Set(addresses.map((a) => a.toLowerCase()))];
  const out: Suppression[] = [];
  for (const part of chunks(wanted, LIST_CHUNK)) {
    const query = SUPPRESSIONS.compile(db, dialect, part, scopesFor(senderDomain), now);
    const { rows } = await db.executeQuery(query);
    out.push(...rows.map(suppressionOf));
  }
  return out;
}

function rowOf(e: Suppression): SuppressionEntriesTable {
  return {
    address: e.address.toLowerCase(),
    scope: (e.scope ?? "").toLowerCase(),
    category: e.category,
    source: e.source ?? "bounce",
    code: e.code,
    reason: e.reason,
    message_id: e.messageId,
    created_at: e.createdAt,
    expires_at: e.expiresAt,
    created_by: e.createdBy ?? null,
  };
}

async function addSuppressions(ctx: SqlContext, entries: Suppression[]): Promise<void> {
  if (entries.length === 0) return;
  const byKey = new Map(entries.map(rowOf).map((r) => [`${r.address}\n${r.scope}`, r]));
  const rows = [...byKey.values()];
  // Delete then insert: a portable upsert.
  await ctx.transaction(async (trx) => {
    for (const part of chunks(rows, LIST_CHUNK)) {
      for (const scope of new Set(part.map((r) => r.scope))) {
        await trx.deleteFrom("suppression_entries").where("scope", "=", scope)
          .where("address", "in", part.filter((r) => r.scope === scope).map((r) => r.address))
          .execute();
      }
      await trx.insertInto("suppression_entries").values(part).execute();
    }
  });
}

async function removeSuppression(
  { db }: SqlContext,
  address: string,
  scope?: string,
): Promise<boolean> {
  let query = db.deleteFrom("suppression_entries").where("address", "=", address.toLowerCase());
  if (scope !== undefined) query = query.where("scope", "=", scope.toLowerCase());
  const result = await query.executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

async function listSuppressions(
  ctx: SqlContext,
  now: number,
  limit: number,
  options: SuppressionListOptions = {},
): Promise<Suppression[]> {
  let query = ctx.db.selectFrom("suppression_entries").selectAll()
    .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", now)]));
  if (options.scope !== undefined) query = query.where("scope", "=", options.scope.toLowerCase());
  if (options.addressPrefix) {
    const prefix = options.addressPrefix.toLowerCase();
    // A range, not LIKE: no escaping, and the primary key's index serves it.
    query = query.where("address", ">=", prefix).where("address", "<", `${prefix}\uffff`);
  }
  const after = options.after;
  if (after) {
    query = query.where((eb) =>
      eb.or([
        eb("address", ">", after.address),
        eb.and([eb("address", "=", after.address), eb("scope", ">", after.scope)]),
      ])
    );
  }
  const rows = await ctx.limit(query.orderBy("address").orderBy("scope"), limit).execute();
  return rows.map(suppressionOf);
}

/** The suppression list on one database. */
export function suppressionRepository(ctx: SqlContext): SuppressionStore {
  return {
    suppressions: (addresses, now, senderDomain) => suppressions(ctx, addresses, now, senderDomain),
    addSuppressions: (entries) => addSuppressions(ctx, entries),
    removeSuppression: (address, scope) => removeSuppression(ctx, address, scope),
    listSuppressions: (now, limit, options) => listSuppressions(ctx, now, limit, options),
  };
}
