/**
 * `suppression`: the list of addresses that hard-bounced and are not tried again until their
 * suppression expires (`bounce.suppression_time`). `list` shows the active entries, `remove
 * ADDRESS` lets mail to an address go out again (e.g. once its mailbox exists).
 */
import { loadConfig } from "../core/config/mod.ts";
import { defineCommand } from "./_command.ts";
import { openCurrentStore } from "./_database.ts";

/** The `suppression` command. */
export const suppressionCommand = defineCommand({
  name: "suppression",
  summary: "Show or lift suppressed addresses",
  description: `Addresses that hard-bounced (the mailbox does not exist) are not tried again for
bounce.suppression_time; mail to them fails at once. "remove" lets mail to ADDRESS go out again.`,
  options: { json: { type: "boolean", description: "Print JSON" } },
  subcommands: [
    { name: "list", summary: "List the active suppressions", options: ["json"] },
    { name: "remove", args: "ADDRESS", summary: "Let mail to ADDRESS go out again" },
  ],
  database: "current",
  run: ({ configPath, action, args, values }) =>
    suppression(configPath, [action!, ...args], values),
});

/** Runs `suppression <list|remove>`; returns the exit code. */
export async function suppression(
  configPath: string | null,
  args: string[],
  options: { json: boolean },
): Promise<number> {
  const [action, ...rest] = args;
  const config = await loadConfig(configPath);
  const store = await openCurrentStore(config, "admin");
  try {
    if (action === "remove") {
      if (!await store.removeSuppression(rest[0])) {
        console.error(`Address "${rest[0]}" is not suppressed`);
        return 1;
      }
      console.log(`Removed "${rest[0].toLowerCase()}" from the suppression list`);
      return 0;
    }
    const entries = await store.listSuppressions(Date.now(), 10_000);
    if (options.json) {
      console.log(JSON.stringify(entries));
    } else if (entries.length === 0) {
      console.log("No suppressed addresses.");
    } else {
      for (const e of entries) {
        console.log(
          `${e.address}\t${e.category}\tuntil ${new Date(e.expiresAt).toISOString()}\t${
            e.reason ?? ""
          }`,
        );
      }
    }
    return 0;
  } finally {
    await store.close();
  }
}
