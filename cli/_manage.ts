/**
 * What the CLI's management commands share: the local actor (the login name, role admin:
 * whoever can read the config file can open the database anyway), how the management
 * plane's errors become exit codes — 2 for input that was refused (nothing changed), 1 for a
 * missing object, a conflict or a stale version — and the frame that opens the store and the
 * management plane around one command.
 */
import type { Config } from "../core/config/mod.ts";
import { type Management, openManagement } from "../core/manage/mod.ts";
import {
  type Actor,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  ValidationError,
  VersionConflictError,
} from "../core/manage/types.ts";
import { withCurrentStore } from "./_database.ts";

/** The CLI's actor: `cli:` and the login name (LOGNAME, which login sets; else USER). */
export function cliActor(): Actor {
  const user = Deno.env.get("LOGNAME") ?? Deno.env.get("USER") ?? "local";
  return { name: `cli:${user}`, role: "admin", channel: "cli" };
}

/**
 * Runs `fn`; a management-plane error is printed and becomes its exit code: refused input
 * (printed by `invalid`) 2, a missing object, a conflict, a stale version or a forbidden
 * change 1. Anything else is thrown on.
 */
async function exitCodeOf(
  fn: () => Promise<number>,
  invalid: (error: ValidationError) => void,
): Promise<number> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof ValidationError) {
      invalid(error);
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

/** Runs `fn`; a management-plane error is printed and becomes its exit code. */
export function withManageErrors(fn: () => Promise<number>): Promise<number> {
  return exitCodeOf(fn, (error) => console.error(`Invalid input: ${error.message}`));
}

/**
 * Runs one change, mapping the core's errors to messages and exit codes: a refused input lists
 * each issue under "Invalid KIND, nothing changed:".
 */
export function reportErrors(kind: string, fn: () => Promise<number>): Promise<number> {
  return exitCodeOf(fn, (error) => {
    console.error(`Invalid ${kind}, nothing changed:`);
    for (const issue of error.issues) {
      console.error(`  ${issue.path || "(input)"}: ${issue.message}`);
    }
  });
}

/**
 * The frame of a command on the management plane: the current store (closed at the end), the
 * management plane on it (announcing changes on the broker when one is configured), and
 * `fn` under {@link reportErrors} for objects of `kind`.
 */
export function withManagement(
  configPath: string | null,
  kind: string,
  fn: (management: Management, config: Config) => Promise<number>,
): Promise<number> {
  return withCurrentStore(configPath, (store, config) => {
    const management = openManagement(store, { config });
    return reportErrors(kind, () => fn(management, config));
  });
}
