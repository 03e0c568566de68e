/**
 * `queue`: prints recipient counts by state (or one message's status with `--message ID`);
 * `queue list|show|retry|cancel|bounce|hold|release|job` search and act on messages, one by ID
 * or many by filter; `queue recount` repairs the terminal totals (cli/queue_ops.ts over
 * core/manage's QueueService).
 */
import type { MessageDetailBody, ReleaseBody } from "../core/api/schemas.ts";
import { type Config } from "../core/config/mod.ts";
import type { SqlStore } from "../core/store/mod.ts";
import { messageDetail, releaseMessage } from "../core/queue/quarantine.ts";
import { messageDetailDocument } from "../core/manage/api_documents.ts";
import { recordAudit } from "../core/manage/audit.ts";
import { cliActor } from "./_manage.ts";
import { FILTER_NAMES, FILTER_OPTIONS, queueOperation } from "./queue_ops.ts";
import { defineCommand } from "./_command.ts";
import { withCurrentStore } from "./_database.ts";

const FILTERS = FILTER_NAMES;
const ACTIONS = ["retry", "cancel", "bounce", "hold", "release"] as const;
const ACTION_SUMMARIES: Record<(typeof ACTIONS)[number], string> = {
  retry: "Make waiting units due now (a message, or every unit a filter selects)",
  cancel: "Stop delivering: open recipients fail, logged, no DSN",
  bounce: "Fail open recipients now with a DSN to the sender",
  hold: "Hold units for an operator (released with release)",
  release: "Make held or quarantined units due again",
};

/** The `queue` command. */
export const queueCommand = defineCommand({
  name: "queue",
  summary: "Show, search and act on the queue (retry, cancel, bounce, hold, release)",
  description:
    "Prints recipient counts by state (queued, deferred, delivered, failed), units in flight and\n" +
    "quarantined units. `queue list` searches units by the filter options; `queue show ID` prints\n" +
    "one message. An action with an ID acts on that message; with filter options instead it\n" +
    "prints how many units match and runs a bulk job (progress on stderr; `--dry-run` only\n" +
    "counts). A job stopped half way continues with `queue job ID --resume`. Every action is\n" +
    "recorded in the audit log (docs/queue_operations.md). `queue recount` sets the terminal\n" +
    "totals (kept per batch since migration 0024) to a full count of the recipient rows.",
  options: {
    json: { type: "boolean", description: "Print counts (or the list) as JSON" },
    message: {
      type: "string",
      value: "ID",
      description:
        "Print one message's recipients, units (failures, quarantine reason) and attempts",
    },
    ...FILTER_OPTIONS,
    limit: { type: "integer", value: "N", min: 1, max: 1000, description: "Units per page" },
    cursor: { type: "string", value: "ID", description: "The next page (printed after a page)" },
    reason: { type: "string", value: "TEXT", description: "Why (audit log, held units' reason)" },
    "dry-run": { type: "boolean", description: "Only count the units a filter selects" },
    resume: { type: "boolean", description: "Run the job on from where it stopped" },
  },
  subcommands: [
    {
      name: "status",
      summary: "Counts by state, or one message's status (the default action)",
      options: ["json", "message"],
    },
    {
      name: "list",
      summary: "Units matching the filter options, by id",
      options: ["json", ...FILTERS, "limit", "cursor"],
    },
    { name: "show", args: "ID", summary: "One message: recipients, units, attempts (JSON)" },
    ...ACTIONS.map((name) => ({
      name,
      args: "[ID]",
      summary: ACTION_SUMMARIES[name],
      options: [...FILTERS, "reason", "dry-run"] as const,
    })),
    { name: "job", args: "ID", summary: "A bulk job's progress", options: ["resume"] },
    {
      name: "recount",
      summary: "Recount the delivered/failed/suppressed/bounced totals from the recipient rows",
      options: ["json"],
    },
  ],
  defaultAction: "status",
  database: "current",
  run: ({ configPath, values, action, args }) =>
    queue(configPath, {
      ...values,
      args: action === "status" ? [] : [action!, ...args],
      values: values as Record<string, unknown>,
    }),
});

/** Prints queue counts or a message's status, or releases / cancels a message. */
export async function queue(
  configPath: string | null,
  options: { json: boolean; message?: string; args?: string[]; values?: Record<string, unknown> },
): Promise<number> {
  // The parser has checked the action and its ID against queueCommand.
  const [action, id] = options.args ?? [];
  return await withCurrentStore(configPath, async (store, config) => {
    // `release ID` prints what it always printed (core/api/schemas.ts ReleaseSchema).
    if (action === "release" && id !== undefined) return await release(config, store, id);
    if (action !== undefined) {
      return await queueOperation(config, store, { action, id, values: options.values ?? {} });
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
  });
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
    await recordAudit(store, cliActor(), {
      kind: "message",
      object_id: id,
      action: "release",
      after: result,
    });
    console.log(JSON.stringify(result));
    return 0;
  } finally {
    await q.close();
  }
}
