/**
 * `queue`: prints recipient counts by state (or one message's status with `--message ID`), and
 * `queue release ID` / `queue cancel ID` act on a message (docs/quarantine.md).
 */
import type { CancelBody, MessageDetailBody, ReleaseBody } from "../core/api/schemas.ts";
import { type Config, loadConfig } from "../core/config/mod.ts";
import type { SqlStore } from "../core/store/mod.ts";
import { cancelMessage, messageDetail, releaseMessage } from "../core/queue/quarantine.ts";
import { messageDetailDocument } from "../core/manage/api_documents.ts";
import { defineCommand } from "./_command.ts";
import { openCurrentStore } from "./_database.ts";

/** The `queue` command. */
export const queueCommand = defineCommand({
  name: "queue",
  summary: "Show the queue; release or cancel a message",
  description:
    "Prints recipient counts by state (queued, deferred, delivered, failed), units in flight and\n" +
    "quarantined units. `queue release ID` makes a message's quarantined units due again (failure\n" +
    "count reset); `queue cancel ID` stops delivering it: open recipients fail, no DSN is sent\n" +
    "(docs/quarantine.md).",
  options: {
    json: { type: "boolean", description: "Print counts as JSON" },
    message: {
      type: "string",
      value: "ID",
      description:
        "Print one message's recipients, units (failures, quarantine reason) and attempts",
    },
  },
  subcommands: [
    {
      name: "status",
      summary: "Counts by state, or one message's status (the default action)",
      options: ["json", "message"],
    },
    { name: "release", args: "ID", summary: "Make a message's quarantined units due again" },
    { name: "cancel", args: "ID", summary: "Stop delivering a message (no DSN)" },
  ],
  defaultAction: "status",
  database: "current",
  run: ({ configPath, values, action, args }) =>
    queue(configPath, { ...values, args: action === "status" ? [] : [action!, ...args] }),
});

/** Prints queue counts or a message's status, or releases / cancels a message. */
export async function queue(
  configPath: string | null,
  options: { json: boolean; message?: string; args?: string[] },
): Promise<number> {
  // The parser has checked the action and its ID against queueCommand.
  const [action, id] = options.args ?? [];
  const config = await loadConfig(configPath);
  const store = await openCurrentStore(config, "admin");
  try {
    if (action === "release") return await release(config, store, id);
    if (action === "cancel") {
      // The same documents as the JSON API answers (core/api/schemas.ts).
      const result: CancelBody | null = await cancelMessage(store, id, console.error);
      if (!result) return notFound(id);
      console.log(JSON.stringify(result));
      return 0;
    }
    if (options.message) {
      const found = await messageDetail(store, options.message);
      if (!found) return notFound(options.message);
      const detail: MessageDetailBody = messageDetailDocument(found);
      console.log(JSON.stringify(detail, null, 2));
      return 0;
    }
    const counts = {
      ...await store.counts(Date.now()),
      quarantined_units: await store.quarantine.quarantinedCount(),
    };
    if (options.json) {
      console.log(JSON.stringify(counts));
    } else {
      for (const [state, n] of Object.entries(counts)) {
        console.log(`${state.padEnd(17)} ${String(n).padStart(10)}`);
      }
    }
    return 0;
  } finally {
    await store.close();
  }
}

function notFound(id: string): number {
  console.error(`Message "${id}" not found`);
  return 1;
}

/** Releasing needs the queue: with RabbitMQ a fresh copy of each unit is published. */
async function release(config: Config, store: SqlStore, id: string): Promise<number> {
  const { openQueue } = await import("../core/queue/mod.ts");
  const q = await openQueue(config, store, { role: "accept", log: console.error });
  try {
    const result: ReleaseBody | null = await releaseMessage(q, store, id, console.error);
    if (!result) return notFound(id);
    console.log(JSON.stringify(result));
    return 0;
  } finally {
    await q.close();
  }
}
