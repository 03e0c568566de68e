/** `migrate`: applies pending schema migrations and exits. */
import { loadConfig } from "../core/config/mod.ts";
import { openStore } from "../core/store/mod.ts";

/** Applies migrations; prints what it applied. */
export async function migrate(configPath: string | null): Promise<void> {
  const config = await loadConfig(configPath);
  const store = await openStore(config, "admin");
  try {
    const applied = await store.migrate();
    console.log(applied.length ? `applied: ${applied.join(", ")}` : "schema is up to date");
  } finally {
    await store.close();
  }
}
