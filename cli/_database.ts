/**
 * The store for commands that must not migrate (every command but `serve` and `migrate`): a
 * status or admin command run from a newer binary must not change the schema under a cluster
 * whose nodes still run the older one. Reading the migration table changes nothing.
 */
import { type Config, loadConfig } from "../core/config/mod.ts";
import { log } from "../core/log.ts";
import {
  type MigrationState,
  openStore,
  type SqlStore,
  type StoreRole,
} from "../core/store/mod.ts";

/** The database has migrations this binary needs that are not applied: exit 2, nothing changed. */
export class SchemaBehindError extends Error {
  override name = "SchemaBehindError";
}

/** The four-digit number a migration name starts with ("0009_outbox" → "0009"). */
function version(name: string): string {
  return name.split("_")[0];
}

/** Why the schema does not do, or null when every migration is applied. */
export function schemaBehind(states: readonly MigrationState[]): string | null {
  const pending = states.filter((m) => m.appliedAt === null).map((m) => m.name);
  if (pending.length === 0) return null;
  const needs = version(states.at(-1)!.name);
  const applied = states.filter((m) => m.appliedAt !== null).map((m) => version(m.name));
  const at = applied.length === 0
    ? "The database has no fastmta schema yet"
    : `The database schema is at ${applied.sort().at(-1)}`;
  // Migrations can land out of order, so name the missing ones rather than only the highest.
  return `${at}, this fastmta needs ${needs} (not applied: ${pending.join(", ")}): ` +
    'run "fastmta migrate"';
}

/** Options of {@link openCurrentStore}. */
export interface OpenCurrentOptions {
  /** Apply the schema when the database has none at all (no node can be using it). */
  setUpNew?: boolean;
}

/**
 * Opens the store and checks that its schema is the one this binary needs; throws
 * SchemaBehindError (and closes the store) when it is behind.
 */
export async function openCurrentStore(
  config: Config,
  role: StoreRole,
  options: OpenCurrentOptions = {},
): Promise<SqlStore> {
  const store = await openStore(config, role);
  try {
    const states = await store.migrationStatus();
    const problem = schemaBehind(states);
    if (problem === null) return store;
    if (options.setUpNew && states.every((m) => m.appliedAt === null)) {
      const applied = await store.migrate();
      log("store", `new database: applied migrations ${applied.join(", ")}`);
      return store;
    }
    throw new SchemaBehindError(problem);
  } catch (error) {
    await store.close();
    throw error;
  }
}

/**
 * The frame of an admin command: loads the config, opens the current store (role admin), runs
 * `fn` on them and closes the store however `fn` ends.
 */
export async function withCurrentStore<T>(
  configPath: string | null,
  fn: (store: SqlStore, config: Config) => Promise<T>,
): Promise<T> {
  const config = await loadConfig(configPath);
  const store = await openCurrentStore(config, "admin");
  try {
    return await fn(store, config);
  } finally {
    await store.close();
  }
}
