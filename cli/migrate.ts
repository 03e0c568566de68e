/**
 * `migrate`: applies pending schema migrations and exits, or with `--status` lists every
 * migration as applied (with when) or pending, without changing anything. Two nodes that
 * migrate at the same moment are safe: the migrator holds a database lock while it works
 * (PostgreSQL advisory lock, MySQL GET_LOCK, SQL Server sp_getapplock, SQLite's write lock).
 */
import { loadConfig } from "../core/config/mod.ts";
import { openStore } from "../core/store/mod.ts";
import { defineCommand } from "./_command.ts";

/** The `migrate` command. */
export const migrateCommand = defineCommand({
  name: "migrate",
  summary: "Apply database migrations",
  description:
    "Applies pending database migrations and exits (serve also applies them at start).\n" +
    "Other commands never migrate: they report a schema that is behind and stop.",
  options: {
    status: { type: "boolean", description: "List applied and pending migrations; change nothing" },
  },
  database: "migrates",
  run: async ({ configPath, values }) => {
    await migrate(configPath, values);
    return 0;
  },
});

/** Options of the `migrate` command. */
export interface MigrateOptions {
  /** List applied and pending migrations instead of applying them. */
  status?: boolean;
}

/** Applies migrations and prints what it applied, or prints their status. */
export async function migrate(
  configPath: string | null,
  options: MigrateOptions = {},
): Promise<void> {
  const config = await loadConfig(configPath);
  const store = await openStore(config, "admin");
  try {
    if (options.status) {
      const states = await store.migrationStatus();
      for (const m of states) {
        const when = m.appliedAt === null
          ? "pending"
          : `applied ${new Date(m.appliedAt).toISOString()}`;
        console.log(`${m.name.padEnd(32)} ${when}`);
      }
      const pending = states.filter((m) => m.appliedAt === null).length;
      console.log(
        `${config.database.driver}: ${states.length - pending} applied, ${pending} pending`,
      );
      return;
    }
    const applied = await store.migrate();
    console.log(applied.length ? `applied: ${applied.join(", ")}` : "schema is up to date");
  } finally {
    await store.close();
  }
}
