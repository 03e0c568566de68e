/**
 * `apikey add|list|remove`: keys for the REST API (`POST /api/v1/messages`). `add` prints the
 * new key once on standard output (alone, so `KEY=$(fastmta apikey add ci)` works); only its
 * SHA-256 is stored, so a lost key cannot be shown again: remove it and add a new one.
 */
import { loadConfig } from "../core/config/mod.ts";
import { openStore } from "../core/store/mod.ts";
import { addApiKey, validateApiKeyName } from "../core/auth/api_keys.ts";
import { UsageError } from "./_usage.ts";

export { UsageError };

function when(ms: number | null): string {
  return ms === null ? "never" : new Date(ms).toISOString();
}

/** Runs `apikey <add|list|remove>`; returns the exit code. */
export async function apikey(
  configPath: string | null,
  args: string[],
  options: { json: boolean },
): Promise<number> {
  const [action, ...rest] = args;
  if (action !== "add" && action !== "list" && action !== "remove") {
    throw new UsageError(
      action
        ? `Unknown apikey action "${action}": expected add, list or remove`
        : "Missing apikey action: expected add, list or remove",
    );
  }
  if (action === "list" ? rest.length !== 0 : rest.length !== 1) {
    throw new UsageError(
      action === "list" ? `Unexpected argument "${rest[0]}"` : `"apikey ${action}" needs one NAME`,
    );
  }
  const name = rest[0];
  if (action === "add") {
    try {
      validateApiKeyName(name);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  }
  const config = await loadConfig(configPath);
  const store = await openStore(config, "admin");
  try {
    await store.migrate();
    switch (action) {
      case "add": {
        const key = await addApiKey(store, name);
        console.log(key);
        console.error(`added API key "${name}" (shown once: store it now)`);
        return 0;
      }
      case "remove": {
        if (!(await store.removeApiKey(name))) {
          console.error(`API key "${name}" does not exist`);
          return 1;
        }
        console.log(`removed API key "${name}"`);
        return 0;
      }
      case "list": {
        const keys = await store.listApiKeys();
        if (options.json) {
          console.log(JSON.stringify(
            keys.map((k) => ({ name: k.name, createdAt: k.createdAt, lastUsedAt: k.lastUsedAt })),
          ));
        } else if (keys.length === 0) {
          console.log("no API keys");
        } else {
          for (const k of keys) {
            console.log(`${k.name}  created=${when(k.createdAt)}  last_used=${when(k.lastUsedAt)}`);
          }
        }
        return 0;
      }
    }
  } finally {
    await store.close();
  }
}
