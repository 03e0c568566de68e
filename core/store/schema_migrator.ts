/**
 * Kysely's Migrator over the migrations/ of one database's dialect. Apart from schema.ts so
 * that only a thread that migrates or lists migrations loads it (the migrations and Kysely's
 * migration module are ~2.5 MB of heap a worker isolate never needs).
 */
import { Migrator } from "kysely/migration";
import { migrationsFor } from "../../migrations/mod.ts";
import type { SqlContext } from "./_sql.ts";

/** The migrator of `ctx`'s database. */
export function migrator({ db, dialect }: SqlContext): Migrator {
  const migrations = migrationsFor(dialect);
  return new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve(migrations) },
    // Migration numbers are handed out per issue, so e.g. 0002 can land after 0006 has run.
    allowUnorderedMigrations: true,
  });
}
