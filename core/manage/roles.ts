/** Who may change what: each service checks its actor before it touches anything. */
import { type Actor, ForbiddenError, type Role } from "./types.ts";

/** Throws ForbiddenError unless the actor has one of `roles`. */
export function requireRole(actor: Actor, roles: readonly Role[], what: string): void {
  if (!roles.includes(actor.role)) {
    throw new ForbiddenError(`Role "${actor.role}" may not ${what} (needs ${roles.join(" or ")})`);
  }
}

/** Roles that may read configuration objects. */
export const READERS: readonly Role[] = ["admin", "operator", "viewer"];
