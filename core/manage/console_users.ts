/**
 * Console users as an ObjectService, for the REST API's /console-users (routes/_crud.ts): the
 * ConsoleUserService of accounts.ts (KDF-hashed passwords, audited) behind list/get/create/
 * update/delete. The password is write-only: it is taken by create and update and never shown
 * nor audited. An update sets a new password (ending the user's sessions) and/or a new role.
 * The API refuses to remove or demote the last admin (the host's `fastmta admin` is the way
 * back from a lock-out, not the API).
 */
import { z } from "zod";
import { ConsoleUserSchema } from "../api/manage_schemas.ts";
import type { AdminUserStore, ConfigObjectStore } from "../store/mod.ts";
import { ConsoleUserService } from "./accounts.ts";
import { requireRole } from "./roles.ts";
import {
  type Actor,
  ConflictError,
  NotFoundError,
  type ObjectService,
  type StoredObject,
  ValidationError,
} from "./types.ts";
import { validated } from "./validate.ts";

/** A console user as shown: never the password. */
export interface ConsoleUserBody {
  username: string;
  role: string;
}

/** What an update may change (PUT and PATCH alike; `username` only as the same name). */
export const ConsoleUserUpdateSchema = ConsoleUserSchema.partial().extend({
  role: z.enum(["admin", "operator", "viewer"]).optional(),
});

function object(u: ConsoleUserBody): StoredObject<ConsoleUserBody> {
  return {
    kind: "console_user",
    id: u.username,
    version: 1,
    body: { username: u.username, role: u.role },
    updated_at: 0,
    updated_by: "",
  };
}

/** The console users of `store` as managed objects (admins only). */
export function consoleUserObjects(
  store: AdminUserStore & Pick<ConfigObjectStore, "recordAudit">,
): ObjectService<ConsoleUserBody> {
  const users = new ConsoleUserService(store);
  const all = async () => (await users.list()).map(object);
  const get = async (id: string) => (await all()).find((u) => u.id === id) ?? null;
  const admins = async () => (await users.list()).filter((u) => u.role === "admin").length;
  const adminOnly = (actor: Actor) => requireRole(actor, ["admin"], "manage console users");
  return {
    kind: "console_user",
    async list({ cursor, limit = 100 }) {
      const after = (await all()).filter((u) => cursor === undefined || u.id > cursor);
      const size = Math.min(Math.max(limit, 1), 1000);
      const items = after.slice(0, size);
      return after.length > size ? { items, next_cursor: items.at(-1)!.id } : { items };
    },
    get,
    async create(input, actor) {
      adminOnly(actor);
      const parsed = validated(ConsoleUserSchema, input);
      await users.add(parsed.username, parsed.password, parsed.role, actor);
      return object({ username: parsed.username, role: parsed.role });
    },
    async update(id, input, actor) {
      adminOnly(actor);
      const before = await get(id);
      if (!before) throw new NotFoundError("console_user", id);
      const change = validated(ConsoleUserUpdateSchema, input);
      if (change.username !== undefined && change.username !== id) {
        throw new ValidationError([{
          path: "username",
          message: "A console user cannot be renamed: add a new one and remove this one",
        }]);
      }
      if (change.password === undefined && change.role === undefined) {
        throw new ValidationError([{ path: "", message: "Expected a password or a role" }]);
      }
      if (
        change.role !== undefined && change.role !== "admin" && before.body.role === "admin" &&
        await admins() <= 1
      ) {
        throw new ConflictError(`"${id}" is the last admin: make another admin first`);
      }
      if (change.password !== undefined) await users.setPassword(id, change.password, actor);
      if (change.role !== undefined) await users.setRole(id, change.role, actor);
      return (await get(id))!;
    },
    async remove(id, actor) {
      adminOnly(actor);
      const user = await get(id);
      if (!user) throw new NotFoundError("console_user", id);
      if (user.body.role === "admin" && await admins() <= 1) {
        throw new ConflictError(`"${id}" is the last admin: make another admin first`);
      }
      await users.remove(id, actor);
    },
  };
}
