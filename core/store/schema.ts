/** Schema migrations (migrations/): applying the pending ones and listing their state. */
import type { SqlContext } from "./_sql.ts";

/** One schema migration and when it was applied here (epoch ms), or null while pending. */
export interface MigrationState {
  name: string;
  appliedAt: number | null;
}

/** What `serve`, `migrate` and the status commands take. */
export interface SchemaStore {
  /** Applies pending migrations; returns the names applied now. Safe to run concurrently. */
  migrate(): Promise<string[]>;
  /** Every known migration, applied or pending, in order. */
  migrationStatus(): Promise<MigrationState[]>;
}

/** The migrator, loaded on first use (schema_migrator.ts says why). */
async function migrator(ctx: SqlContext) {
  return (await import("./schema_migrator.ts")).migrator(ctx);
}

/** The schema of one database. */
export function schemaRepository(ctx: SqlContext): SchemaStore {
  return {
    async migrate() {
      const { error, results } = await (await migrator(ctx)).migrateToLatest();
      if (error) throw error;
      return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
    },
    async migrationStatus() {
      const infos = await (await migrator(ctx)).getMigrations();
      return infos.map((m) => ({ name: m.name, appliedAt: m.executedAt?.getTime() ?? null }));
    },
  };
}
