/**
 * The suppression list in the shape every face's CRUD takes (ObjectService): one object per
 * entry, id = the address for a global entry or "scope:address" for a scoped one. Entries are
 * replaced, not versioned: each is at version 1.
 */
import type { SuppressionBody } from "../api/manage_schemas.ts";
import type { SuppressionService } from "./suppressions.ts";
import {
  type Actor,
  NotFoundError,
  type ObjectService,
  type Page,
  type StoredObject,
  ValidationError,
} from "./types.ts";

/** The id of an entry. */
export function suppressionId(body: Pick<SuppressionBody, "address" | "scope">): string {
  return body.scope ? `${body.scope}:${body.address}` : body.address;
}

function split(id: string): { address: string; scope: string } {
  const colon = id.lastIndexOf(":");
  return colon < 0
    ? { address: id.toLowerCase(), scope: "" }
    : { address: id.slice(colon + 1).toLowerCase(), scope: id.slice(0, colon).toLowerCase() };
}

function stored(body: SuppressionBody): StoredObject<SuppressionBody> {
  return {
    kind: "suppression",
    id: suppressionId(body),
    version: 1,
    body,
    updated_at: body.created_at,
    updated_by: body.created_by ?? body.source,
  };
}

/** The service as an ObjectService (reads as the `viewer` sees them; writes checked by role). */
export function suppressionObjects(
  service: SuppressionService,
  reader: Actor = { name: "api", role: "viewer", channel: "api" },
): ObjectService<SuppressionBody> {
  return {
    kind: "suppression",
    async list(options): Promise<Page<StoredObject<SuppressionBody>>> {
      const page = await service.list(options, reader);
      return { ...page, items: page.items.map(stored) };
    },
    async get(id) {
      const { address, scope } = split(id);
      const page = await service.list({ address_prefix: address, scope, limit: 10 }, reader);
      const found = page.items.find((i) => i.address === address && i.scope === scope);
      return found ? stored(found) : null;
    },
    async create(input, actor) {
      return stored(await service.add(input, actor));
    },
    async update(id, input, actor) {
      const { address, scope } = split(id);
      const body = { address, scope, ...(input as Record<string, unknown>) };
      if (body.address !== address || (body.scope ?? "") !== scope) {
        throw new ValidationError([{ path: "address", message: `Must stay "${id}"` }]);
      }
      return stored(await service.add(body, actor));
    },
    async remove(id, actor) {
      const { address, scope } = split(id);
      try {
        await service.remove(address, actor, { scope });
      } catch (error) {
        if (error instanceof NotFoundError) throw new NotFoundError("suppression", id);
        throw error;
      }
    },
  };
}
