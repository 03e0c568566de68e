/**
 * What the CLI's management commands share: the local actor (the login name, role admin:
 * whoever can read the config file can open the database anyway) and how the management
 * plane's errors become exit codes — 2 for input that was refused (nothing changed), 1 for a
 * missing object, a conflict or a stale version.
 */
import {
  type Actor,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  ValidationError,
  VersionConflictError,
} from "../core/manage/types.ts";

/** The actor for changes made with the CLI. */
export function cliActor(): Actor {
  const user = Deno.env.get("LOGNAME") ?? Deno.env.get("USER") ?? "local";
  return { name: `cli:${user}`, role: "admin", channel: "cli" };
}

/** Runs `fn`; a management-plane error is printed and becomes its exit code. */
export async function withManageErrors(fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof ValidationError) {
      console.error(`Invalid input: ${error.message}`);
      return 2;
    }
    if (
      error instanceof NotFoundError || error instanceof ConflictError ||
      error instanceof VersionConflictError || error instanceof ForbiddenError
    ) {
      console.error(error.message);
      return 1;
    }
    throw error;
  }
}
