/**
 * The generic object service: one `ObjectService` per kind (kinds.ts), made from its definition.
 * Every change is checked in this order — role, input (zod; each issue becomes a FieldIssue with
 * the path joined by "."), the version the caller saw — and then written in one store
 * transaction with its audit entry and the cluster config version bump (core/store/
 * config_objects.ts). Only after the commit is the change announced (`notify`), so a node never
 * applies what was not stored. On any error nothing is changed.
 */
import type { z } from "zod";
import type { ConfigObjectRecord, ConfigObjectStore } from "../store/mod.ts";
import type { ObjectKind } from "./kinds.ts";
import { keepSecrets, redact } from "./secrets.ts";
import {
  type Actor,
  ConflictError,
  type FieldIssue,
  ForbiddenError,
  NotFoundError,
  type ObjectService,
  type Page,
  type Role,
  type StoredObject,
  ValidationError,
  VersionConflictError,
} from "./types.ts";
import { emitEvent } from "../events/mod.ts";

/** A committed change, as announced to the live views. */
export interface ObjectChange {
  kind: string;
  id: string;
  action: "create" | "update" | "delete" | "revert";
  /** The object's new version. */
  version: number;
  /** The cluster config version after the change. */
  config_version: number;
}

/** What every object service shares. */
export interface ObjectServiceDeps {
  store: ConfigObjectStore;
  /** Called after each committed change (broadcast, local apply); errors are logged only. */
  notify: (change: ObjectChange) => Promise<void> | void;
  now?: () => number;
  log?: (line: string) => void;
}

/** The service of one kind, with the extra write the audit revert needs. */
export interface KindService<T> extends ObjectService<T> {
  readonly definition: ObjectKind<T>;
  /** Puts `body` (or removes the object, null) whatever it holds now; audited as `action`. */
  restore(id: string, body: unknown | null, actor: Actor, action: "revert"): Promise<void>;
}

const READ_ROLES: readonly Role[] = ["admin", "operator", "viewer"];
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

/** Zod issues as FieldIssues, paths joined with "." (e.g. "rule.max_connections"). */
export function fieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join("."),
    message: issue.message,
  }));
}

function storedOf<T>(row: ConfigObjectRecord): StoredObject<T> {
  return {
    kind: row.kind,
    id: row.id,
    version: row.version,
    body: JSON.parse(row.body) as T,
    updated_at: row.updatedAt,
    updated_by: row.updatedBy,
  };
}

function allow(actor: Actor, roles: readonly Role[], what: string) {
  if (!roles.includes(actor.role)) {
    throw new ForbiddenError(`Role "${actor.role}" may not ${what}`);
  }
}

/** Makes the service of one kind. */
export function objectService<T>(def: ObjectKind<T>, deps: ObjectServiceDeps): KindService<T> {
  const { store } = deps;
  const now = deps.now ?? Date.now;
  const writeRoles = def.writeRoles ?? ["admin"];

  function parse(input: unknown): T {
    if (input === null || typeof input !== "object" || Array.isArray(input)) {
      throw new ValidationError([{ path: "", message: "Expected a JSON object" }]);
    }
    const parsed = def.schema.safeParse(input);
    if (!parsed.success) throw new ValidationError(fieldIssues(parsed.error));
    return parsed.data;
  }

  async function announce(change: ObjectChange) {
    try {
      await deps.notify(change);
    } catch (error) {
      // Stored already: nodes still pick it up from their version poll.
      deps.log?.(`cannot announce ${change.kind} "${change.id}": ${(error as Error).message}`);
    }
  }

  async function write(
    id: string,
    expect: "absent" | number,
    body: T | null,
    actor: Actor,
    action: ObjectChange["action"],
  ) {
    const result = await store.writeConfigObject({
      kind: def.kind,
      id,
      expect,
      body: body === null ? null : JSON.stringify(body),
      at: now(),
      by: actor.name,
      audit: { actor: actor.name, role: actor.role, channel: actor.channel, action },
    });
    switch (result.kind) {
      case "exists":
        throw new ConflictError(`${def.kind} "${id}" exists already`);
      case "missing":
        throw new NotFoundError(def.kind, id);
      case "conflict":
        throw new VersionConflictError(def.kind, id, result.current);
    }
    await announce({
      kind: def.kind,
      id,
      action,
      version: result.version,
      config_version: result.configVersion,
    });
    // The admin_change event (core/events; only buffered here).
    emitEvent({
      type: "admin_change",
      actor: actor.name,
      reason: `via ${actor.channel}`,
      object: { kind: def.kind, id, action, version: result.version },
    });
    return result;
  }

  /** The stored object, secrets included (never handed to a face). */
  async function getRaw(id: string): Promise<StoredObject<T> | null> {
    const row = await store.configObject(def.kind, id);
    return row && !row.deleted ? storedOf<T>(row) : null;
  }

  /** What faces see: secrets redacted. */
  function shown(object: StoredObject<T>): StoredObject<T> {
    return { ...object, body: redact(object.body, def.secretPaths) };
  }

  async function get(id: string): Promise<StoredObject<T> | null> {
    const found = await getRaw(id);
    return found ? shown(found) : null;
  }

  async function current(id: string, ifVersion?: number): Promise<StoredObject<T>> {
    const found = await getRaw(id);
    if (!found) throw new NotFoundError(def.kind, id);
    if (ifVersion !== undefined && ifVersion !== found.version) {
      throw new VersionConflictError(def.kind, id, found.version);
    }
    return found;
  }

  return {
    kind: def.kind,
    definition: def,
    async list({ cursor, limit }) {
      const size = Math.min(Math.max(1, limit ?? DEFAULT_LIMIT), MAX_LIMIT);
      const rows = await store.listConfigObjects(def.kind, { afterId: cursor, limit: size + 1 });
      const items = rows.slice(0, size).map((r) => shown(storedOf<T>(r)));
      const page: Page<StoredObject<T>> = { items };
      if (rows.length > size) page.next_cursor = items[items.length - 1].id;
      return page;
    },
    get,
    async create(input, actor) {
      allow(actor, writeRoles, `create a ${def.kind}`);
      const body = parse(input);
      const id = def.idOf(body);
      const result = await write(id, "absent", body, actor, "create");
      return (await get(id)) ?? {
        kind: def.kind,
        id,
        version: result.version,
        body: redact(body, def.secretPaths),
        updated_at: now(),
        updated_by: actor.name,
      };
    },
    async update(id, input, actor, options = {}) {
      allow(actor, writeRoles, `change a ${def.kind}`);
      const found = await current(id, options.ifVersion);
      let merged = input;
      if (input !== null && typeof input === "object") {
        merged = structuredClone(input);
        keepSecrets(merged, found.body, def.secretPaths); // a secret sent back as read
      }
      if (options.partial) {
        if (input === null || typeof input !== "object" || Array.isArray(input)) {
          throw new ValidationError([{ path: "", message: "Expected a JSON object" }]);
        }
        merged = { ...found.body as Record<string, unknown>, ...merged as Record<string, unknown> };
      }
      const body = parse(merged);
      if (def.idOf(body) !== id) {
        throw new ValidationError([{
          path: def.idPath,
          message: `Cannot change the id "${id}" of a ${def.kind}: create a new one instead`,
        }]);
      }
      await write(id, found.version, body, actor, "update");
      return (await get(id))!;
    },
    async remove(id, actor, options = {}) {
      allow(actor, writeRoles, `delete a ${def.kind}`);
      const found = await current(id, options.ifVersion);
      await write(id, found.version, null, actor, "delete");
    },
    async restore(id, input, actor, action) {
      allow(actor, writeRoles, `revert a ${def.kind}`);
      const body = input === null ? null : parse(input);
      if (body !== null && def.idOf(body) !== id) {
        throw new ValidationError([{ path: def.idPath, message: `Expected the id "${id}"` }]);
      }
      const found = await getRaw(id);
      if (!found && body === null) return; // Absent already: nothing to undo.
      await write(id, found ? found.version : "absent", body, actor, action);
    },
  };
}

/** Who may read configuration objects. */
export function checkRead(actor: Actor, kind: string): void {
  allow(actor, READ_ROLES, `read ${kind} objects`);
}
