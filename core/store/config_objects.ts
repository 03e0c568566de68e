/**
 * Versioned configuration objects, their audit log and the cluster config version
 * (migrations/0011_config_objects.ts). A change is one transaction: the object's version check
 * and write, the bump of the cluster-wide counter and the audit row commit together or not at
 * all. Validation and roles live in core/manage/; this module only stores.
 */
import type { Transaction } from "kysely";
import { numberOrNull, type SqlContext } from "./_sql.ts";
import type { ConfigObjectsTable, Tables } from "./tables.ts";
import type { Selectable } from "kysely";

/** A stored object (a tombstone when `deleted`); `body` is JSON. */
export interface ConfigObjectRecord {
  kind: string;
  id: string;
  version: number;
  body: string;
  deleted: boolean;
  updatedAt: number;
  updatedBy: string;
}

/** One audit entry; `before`/`after` are JSON or null. */
export interface AuditRecord {
  id: number;
  at: number;
  actor: string;
  role: string;
  channel: string;
  kind: string;
  objectId: string;
  /** create, update, delete, revert, or a queue action (retry, cancel, …) */
  action: string;
  before: string | null;
  after: string | null;
  /** The config version the change produced (0 when it changed no config object). */
  configVersion: number;
}

/** An audit entry to write (the id and config version are assigned). */
export type NewAuditRecord = Omit<AuditRecord, "id" | "configVersion">;

/**
 * One object change. `expect`: "absent" for a create (a tombstone counts as absent), a number
 * for "exactly this version" (update, delete). `body` null deletes.
 */
export interface ConfigObjectChange {
  kind: string;
  id: string;
  expect: "absent" | number;
  body: string | null;
  at: number;
  by: string;
  /** Written in the same transaction, with `before`/`after` filled in from the rows. */
  audit: Omit<NewAuditRecord, "kind" | "objectId" | "before" | "after" | "at">;
}

/** What a change did: written (new version, new config version) or why not. */
export type ConfigObjectWrite =
  | { kind: "written"; version: number; configVersion: number; before: string | null }
  | { kind: "exists"; current: number }
  | { kind: "missing" }
  | { kind: "conflict"; current: number };

/** Filters and page of {@link ConfigObjectStore.listAudit}. */
export interface AuditQuery {
  /** Entries with a smaller id than this (the previous page's last). */
  beforeId?: number;
  limit: number;
  kind?: string;
  objectId?: string;
}

/** What core/manage takes. */
export interface ConfigObjectStore {
  /** Live objects of `kind` with an id after `afterId`, by id. */
  listConfigObjects(kind: string, page: { afterId?: string; limit: number }): Promise<
    ConfigObjectRecord[]
  >;
  /** Every live object of every kind (what a node's live view loads). */
  allConfigObjects(): Promise<ConfigObjectRecord[]>;
  /** One object, tombstone included; null when never stored. */
  configObject(kind: string, id: string): Promise<ConfigObjectRecord | null>;
  /** Whether any object of `kind` was ever stored (tombstones count): seeding happens once. */
  configKindTouched(kind: string): Promise<boolean>;
  /** Writes one change atomically with its audit entry and the config version bump. */
  writeConfigObject(change: ConfigObjectChange): Promise<ConfigObjectWrite>;
  /** The cluster config version (bumped by every object change). */
  configVersion(): Promise<number>;
  /** Writes an audit entry that changes no config object (queue actions). */
  recordAudit(entry: NewAuditRecord): Promise<void>;
  /** Audit entries, newest first. */
  listAudit(query: AuditQuery): Promise<AuditRecord[]>;
  /** One audit entry, or null. */
  auditEntry(id: number): Promise<AuditRecord | null>;
}

function objectOf(row: ConfigObjectsTable): ConfigObjectRecord {
  return {
    kind: row.kind,
    id: row.id,
    version: Number(row.version),
    body: row.body,
    deleted: Number(row.deleted) === 1,
    updatedAt: Number(row.updated_at),
    updatedBy: row.updated_by,
  };
}

function auditOf(row: Selectable<Tables["config_audit"]>): AuditRecord {
  return {
    id: Number(row.id),
    at: Number(row.at),
    actor: row.actor,
    role: row.role,
    channel: row.channel,
    kind: row.kind,
    objectId: row.object_id,
    action: row.action,
    before: row.before_body,
    after: row.after_body,
    configVersion: numberOrNull(row.config_version) ?? 0,
  };
}

/**
 * Inserts an audit row inside `trx`: for repositories of other aggregates whose change should
 * be audited in its own transaction (queue actions).
 */
export async function insertAuditRow(
  trx: Transaction<Tables>,
  entry: NewAuditRecord,
  configVersion = 0,
): Promise<void> {
  await trx.insertInto("config_audit").values({
    at: entry.at,
    actor: entry.actor,
    role: entry.role,
    channel: entry.channel,
    kind: entry.kind,
    object_id: entry.objectId,
    action: entry.action,
    before_body: entry.before,
    after_body: entry.after,
    config_version: configVersion,
  }).execute();
}

/** Bumps the cluster config version inside `trx` (the row lock orders concurrent changes). */
async function bumpVersion(trx: Transaction<Tables>): Promise<number> {
  await trx.updateTable("config_version").set((eb) => ({ version: eb("version", "+", 1) }))
    .where("name", "=", "objects").execute();
  const row = await trx.selectFrom("config_version").select("version")
    .where("name", "=", "objects").executeTakeFirstOrThrow();
  return Number(row.version);
}

async function writeChange(
  trx: Transaction<Tables>,
  change: ConfigObjectChange,
): Promise<ConfigObjectWrite> {
  const existing = await trx.selectFrom("config_objects").selectAll()
    .where("kind", "=", change.kind).where("id", "=", change.id).executeTakeFirst();
  const current = existing ? objectOf(existing) : null;
  const live = current !== null && !current.deleted;
  if (change.expect === "absent") {
    if (live) return { kind: "exists", current: current.version };
  } else {
    if (!live) return { kind: "missing" };
    if (current.version !== change.expect) return { kind: "conflict", current: current.version };
  }
  const version = (current?.version ?? 0) + 1;
  const row = {
    version,
    body: change.body ?? current?.body ?? "null",
    deleted: change.body === null ? 1 : 0,
    updated_at: change.at,
    updated_by: change.by,
  };
  if (current) {
    // Conditional on the version read: a concurrent writer makes this match nothing.
    const updated = await trx.updateTable("config_objects").set(row)
      .where("kind", "=", change.kind).where("id", "=", change.id)
      .where("version", "=", current.version).executeTakeFirst();
    if (Number(updated.numUpdatedRows) !== 1) return { kind: "conflict", current: version };
  } else {
    await trx.insertInto("config_objects").values({ kind: change.kind, id: change.id, ...row })
      .execute();
  }
  const configVersion = await bumpVersion(trx);
  const before = live ? current.body : null;
  await insertAuditRow(trx, {
    ...change.audit,
    at: change.at,
    kind: change.kind,
    objectId: change.id,
    before,
    after: change.body,
  }, configVersion);
  return { kind: "written", version, configVersion, before };
}

/** True for a primary-key violation (a concurrent create of the same id). */
function isDuplicateKey(error: unknown): boolean {
  const { code, errno, number, message } = (error ?? {}) as Record<string, unknown>;
  return code === "23505" || code === "ER_DUP_ENTRY" || errno === 1062 || number === 2627 ||
    /UNIQUE constraint failed|PRIMARY KEY/i.test(String(message ?? ""));
}

/** The config objects and audit log on one database. */
export function configObjectRepository(ctx: SqlContext): ConfigObjectStore {
  const { db } = ctx;
  return {
    listConfigObjects: async (kind, page) => {
      let query = db.selectFrom("config_objects").selectAll()
        .where("kind", "=", kind).where("deleted", "=", 0);
      if (page.afterId !== undefined) query = query.where("id", ">", page.afterId);
      return (await ctx.limit(query.orderBy("id"), page.limit).execute()).map(objectOf);
    },
    allConfigObjects: async () =>
      (await db.selectFrom("config_objects").selectAll().where("deleted", "=", 0)
        .orderBy("kind").orderBy("id").execute()).map(objectOf),
    configObject: async (kind, id) => {
      const row = await db.selectFrom("config_objects").selectAll()
        .where("kind", "=", kind).where("id", "=", id).executeTakeFirst();
      return row ? objectOf(row) : null;
    },
    configKindTouched: async (kind) => {
      const query = db.selectFrom("config_objects").select("id").where("kind", "=", kind);
      return (await ctx.limit(query, 1).execute()).length > 0;
    },
    writeConfigObject: async (change) => {
      try {
        return await ctx.transaction((trx) => writeChange(trx, change));
      } catch (error) {
        if (change.expect === "absent" && isDuplicateKey(error)) {
          return { kind: "exists", current: 1 };
        }
        throw error;
      }
    },
    configVersion: async () => {
      const row = await db.selectFrom("config_version").select("version")
        .where("name", "=", "objects").executeTakeFirst();
      return row ? Number(row.version) : 0;
    },
    recordAudit: async (entry) => {
      await ctx.transaction((trx) => insertAuditRow(trx, entry));
    },
    listAudit: async (q) => {
      let query = db.selectFrom("config_audit").selectAll();
      if (q.beforeId !== undefined) query = query.where("id", "<", q.beforeId);
      if (q.kind !== undefined) query = query.where("kind", "=", q.kind);
      if (q.objectId !== undefined) query = query.where("object_id", "=", q.objectId);
      const rows = await ctx.limit(query.orderBy("id", "desc"), q.limit).execute();
      return rows.map((r) => auditOf(r));
    },
    auditEntry: async (id) => {
      const row = await db.selectFrom("config_audit").selectAll().where("id", "=", id)
        .executeTakeFirst();
      return row ? auditOf(row) : null;
    },
  };
}

/**
 * Creates, replaces or (body null) deletes an object whatever its version, audited as the
 * `system` channel: for store-level writers kept for compatibility (ShapingRuleStore).
 * Returns false when there was nothing to delete.
 */
export async function putConfigObject(
  ctx: SqlContext,
  put: { kind: string; id: string; body: string | null; at: number; by: string },
): Promise<boolean> {
  const repo = configObjectRepository(ctx);
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = await repo.configObject(put.kind, put.id);
    const live = current !== null && !current.deleted;
    if (!live && put.body === null) return false;
    const action = put.body === null ? "delete" : live ? "update" : "create";
    const result = await repo.writeConfigObject({
      kind: put.kind,
      id: put.id,
      expect: live ? current.version : "absent",
      body: put.body,
      at: put.at,
      by: put.by,
      audit: { actor: put.by, role: "admin", channel: "system", action },
    });
    if (result.kind === "written") return true;
  }
  throw new Error(`Cannot write ${put.kind} "${put.id}": it keeps changing concurrently`);
}
