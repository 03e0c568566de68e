/**
 * An in-memory ObjectService (core/manage/types.ts) for route tests: validates with the kind's
 * zod schema (ValidationError naming the field), versions each object from 1, honours
 * `ifVersion` (VersionConflictError) and pages by id with the API's opaque cursors.
 */
import { z } from "zod";
import { decodeCursor, pageFrom } from "../../core/api/pagination.ts";
import {
  type Actor,
  ConflictError,
  NotFoundError,
  type ObjectService,
  type StoredObject,
  ValidationError,
  VersionConflictError,
} from "../../core/manage/types.ts";
import { OPERATORS } from "../../routes/_api.ts";
import type { CrudResource } from "../../routes/_resource.ts";

function check<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ValidationError(
    result.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })),
  );
}

/** An in-memory service of `kind` whose bodies are `schema` and carry their `id`. */
export class FakeObjects implements ObjectService {
  readonly #objects = new Map<string, StoredObject>();
  readonly changes: { op: string; id: string; by: string }[] = [];

  constructor(readonly kind: string, readonly schema: z.ZodObject) {}

  list(options: { cursor?: string; limit?: number }) {
    const limit = options.limit ?? 50;
    let after = "";
    if (options.cursor !== undefined) {
      const position = decodeCursor(options.cursor);
      if (typeof position?.after !== "string") {
        throw new ValidationError([{ path: "cursor", message: "Not a cursor of this list" }]);
      }
      after = position.after;
    }
    const rows = [...this.#objects.values()].sort((a, b) => a.id < b.id ? -1 : 1)
      .filter((o) => o.id > after).slice(0, limit + 1);
    return Promise.resolve(pageFrom(rows, limit, (last) => ({ after: last.id })));
  }

  get(id: string) {
    return Promise.resolve(this.#objects.get(id) ?? null);
  }

  create(input: unknown, actor: Actor) {
    const body = check(this.schema, input) as Record<string, unknown>;
    const id = String(body.id);
    if (this.#objects.has(id)) throw new ConflictError(`${this.kind} "${id}" exists already`);
    const object = { kind: this.kind, id, version: 1, body, updated_at: 1, updated_by: actor.name };
    this.#objects.set(id, object);
    this.changes.push({ op: "create", id, by: actor.name });
    return Promise.resolve(object);
  }

  update(
    id: string,
    input: unknown,
    actor: Actor,
    options: { ifVersion?: number; partial?: boolean } = {},
  ) {
    const current = this.#objects.get(id);
    if (!current) throw new NotFoundError(this.kind, id);
    if (options.ifVersion !== undefined && options.ifVersion !== current.version) {
      throw new VersionConflictError(this.kind, id, current.version);
    }
    const merged = options.partial ? { ...current.body, ...(input as object) } : input;
    const body = check(this.schema, merged) as Record<string, unknown>;
    if (body.id !== id) {
      throw new ValidationError([{ path: "id", message: "Cannot change the id" }]);
    }
    const object = { ...current, version: current.version + 1, body, updated_by: actor.name };
    this.#objects.set(id, object);
    this.changes.push({ op: "update", id, by: actor.name });
    return Promise.resolve(object);
  }

  remove(id: string, actor: Actor, options: { ifVersion?: number } = {}) {
    const current = this.#objects.get(id);
    if (!current) throw new NotFoundError(this.kind, id);
    if (options.ifVersion !== undefined && options.ifVersion !== current.version) {
      throw new VersionConflictError(this.kind, id, current.version);
    }
    this.#objects.delete(id);
    this.changes.push({ op: "remove", id, by: actor.name });
    return Promise.resolve();
  }
}

const VmtaBody = z.strictObject({
  id: z.string().min(1),
  source_ip: z.ipv4(),
  hostname: z.string().min(1),
});
const SuppressionBody = z.strictObject({ id: z.string().min(1), reason: z.string() });
const PauseBody = z.strictObject({ id: z.string().min(1), scope: z.string() });

/** Three kinds served by fakes: vmtas (admin writes), suppressions and pauses (operators). */
export function fakeResources(): CrudResource[] {
  return [
    { path: "vmtas", name: "Vmta", service: new FakeObjects("vmta", VmtaBody), body: VmtaBody },
    {
      path: "suppressions",
      name: "Suppression",
      service: new FakeObjects("suppression", SuppressionBody),
      body: SuppressionBody,
      writeRoles: OPERATORS,
    },
    {
      path: "pauses",
      name: "Pause",
      service: new FakeObjects("pause", PauseBody),
      body: PauseBody,
      writeRoles: OPERATORS,
    },
  ];
}
