/**
 * `apikey add|list|remove`: keys for the REST API (`POST /api/v1/messages`). `add` prints the
 * new key once on standard output (alone, so `KEY=$(fastmta apikey add ci)` works); only its
 * SHA-256 is stored, so a lost key cannot be shown again: remove it and add a new one.
 */
import { validateApiKeyName } from "../core/auth/api_keys.ts";
import { apiKeyService } from "../core/manage/accounts.ts";
import { NotFoundError, type Role, ROLES } from "../core/manage/types.ts";
import { cliActor } from "./_manage.ts";
import { defineCommand } from "./_command.ts";
import { withCurrentStore } from "./_database.ts";
import { UsageError } from "./_usage.ts";

/** The `apikey` command. */
export const apikeyCommand = defineCommand({
  name: "apikey",
  summary: "Manage REST API keys",
  description: `Manages the keys of the REST API ("Authorization: Bearer KEY").
"add" prints the new key once on standard output; only its SHA-256 is stored, so a lost key
cannot be shown again: remove it and add another. A key's role says what it may do: sender
(the default, as keys did before roles: send, and read the messages it sent), viewer (read),
operator (queue actions, pauses, suppressions) or admin (everything). A key may send to any
domain.`,
  options: {
    json: { type: "boolean", description: "Print JSON" },
    role: {
      type: "choice",
      value: "ROLE",
      choices: ROLES,
      default: "sender",
      description: "What the new key may do",
    },
  },
  subcommands: [
    { name: "add", args: "NAME", summary: "Make a key and print it (once)", options: ["role"] },
    {
      name: "list",
      summary: "List keys: name, role, created, last used (never the key)",
      options: ["json"],
    },
    { name: "remove", args: "NAME", summary: "Revoke a key" },
  ],
  database: "current",
  run: ({ configPath, action, args, values }) => apikey(configPath, [action!, ...args], values),
});

function when(ms: number | null): string {
  return ms === null ? "never" : new Date(ms).toISOString();
}

/** Runs `apikey <add|list|remove>`; returns the exit code. */
export async function apikey(
  configPath: string | null,
  args: string[],
  options: { json: boolean; role?: Role },
): Promise<number> {
  // The parser has checked the action and the argument count against apikeyCommand.
  const [action, name] = args as ["add" | "list" | "remove", string];
  if (action === "add") {
    try {
      validateApiKeyName(name);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  }
  return await withCurrentStore(configPath, async (store) => {
    switch (action) {
      case "add": {
        const role = options.role ?? "sender";
        // Through the management plane: the same checks as the API, and an audit entry.
        const made = await apiKeyService(store).create({ name, role }, cliActor());
        const key = made.body.key!;
        console.log(key);
        console.error(`added API key "${name}" with role ${role} (shown once: store it now)`);
        return 0;
      }
      case "remove": {
        try {
          await apiKeyService(store).remove(name, cliActor());
        } catch (error) {
          if (!(error instanceof NotFoundError)) throw error;
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
            keys.map((k) => ({
              name: k.name,
              role: k.role,
              created_at: k.createdAt,
              last_used_at: k.lastUsedAt,
            })),
          ));
        } else if (keys.length === 0) {
          console.log("no API keys");
        } else {
          for (const k of keys) {
            console.log(
              `${k.name}  role=${k.role}  created=${when(k.createdAt)}  last_used=${
                when(k.lastUsedAt)
              }`,
            );
          }
        }
        return 0;
      }
    }
  });
}
