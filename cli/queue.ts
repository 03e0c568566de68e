/** `queue`: prints recipient counts by state (or one message's status with `--message ID`). */
import { loadConfig } from "../core/config/mod.ts";
import { defineCommand } from "./_command.ts";
import { openCurrentStore } from "./_database.ts";

/** The `queue` command. */
export const queueCommand = defineCommand({
  name: "queue",
  summary: "Show the queue",
  description:
    "Prints recipient counts by state (queued, deferred, delivered, failed) and units in flight.",
  options: {
    json: { type: "boolean", description: "Print counts as JSON" },
    message: {
      type: "string",
      value: "ID",
      description: "Print one message's recipients and delivery attempts",
    },
  },
  database: "current",
  run: ({ configPath, values }) => queue(configPath, values),
});

/** Prints queue counts, or a message's recipients and attempts. */
export async function queue(
  configPath: string | null,
  options: { json: boolean; message?: string },
): Promise<number> {
  const config = await loadConfig(configPath);
  const store = await openCurrentStore(config, "admin");
  try {
    if (options.message) {
      const status = await store.messageStatus(options.message);
      if (!status) {
        console.error(`Message "${options.message}" not found`);
        return 1;
      }
      console.log(JSON.stringify(status, null, 2));
      return 0;
    }
    const counts = await store.counts(Date.now());
    if (options.json) {
      console.log(JSON.stringify(counts));
    } else {
      for (const [state, n] of Object.entries(counts)) {
        console.log(`${state.padEnd(16)} ${String(n).padStart(10)}`);
      }
    }
    return 0;
  } finally {
    await store.close();
  }
}
