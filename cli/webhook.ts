/**
 * `webhook`: the webhooks events are posted to (core/manage/webhooks.ts; docs/webhooks.md).
 * `add URL --events LIST` (secret from `--secret` or the first line of stdin), `list`,
 * `remove ID`, `deliveries ID` (status and the last POSTs), `dead-letters ID`, `replay ID`.
 */
import { NotFoundError, ValidationError } from "../core/manage/types.ts";
import { cliActor } from "./_manage.ts";
import { WebhookService } from "../core/manage/webhooks.ts";
import { defineCommand } from "./_command.ts";
import { withCurrentStore } from "./_database.ts";
import { cliEvents } from "./_events.ts";

/** The `webhook` command. */
export const webhookCommand = defineCommand({
  name: "webhook",
  summary: "Add, list, remove webhooks; show deliveries, dead letters; replay",
  description:
    `Webhooks get events (delivered, deferred, bounced, ...) as signed JSON batches (docs/webhooks.md).
"add" reads the secret (at least 16 characters) from --secret or the first line of stdin; it is
stored sealed with the master key. "replay" posts a webhook's dead letters again.`,
  options: {
    events: {
      type: "string",
      value: "LIST",
      description: 'Comma-separated event types (e.g. "delivered,bounced"; "*" for all)',
    },
    secret: { type: "string", value: "SECRET", description: "Signing secret (else from stdin)" },
    id: { type: "string", value: "ID", description: "Webhook id (default: generated)" },
    letter: {
      type: "string",
      value: "N",
      multiple: true,
      description: "Replay only this dead letter (repeatable)",
    },
    limit: { type: "integer", value: "N", min: 1, max: 1000, default: 20, description: "Rows" },
    json: { type: "boolean", description: "Print JSON" },
  },
  subcommands: [
    {
      name: "add",
      args: "URL",
      summary: "Add a webhook",
      options: ["events", "secret", "id", "json"],
    },
    { name: "list", summary: "List webhooks with their status", options: ["json"] },
    { name: "remove", args: "ID", summary: "Remove a webhook and its waiting events" },
    {
      name: "deliveries",
      args: "ID",
      summary: "Status and last POSTs",
      options: ["limit", "json"],
    },
    { name: "dead-letters", args: "ID", summary: "Batches given up", options: ["limit", "json"] },
    { name: "replay", args: "ID", summary: "Post dead letters again", options: ["letter", "json"] },
  ],
  database: "current",
  run: ({ configPath, action, args, values }) => webhook(configPath, action!, args, values),
});

async function readSecret(given: string | undefined): Promise<string> {
  if (given !== undefined) return given;
  const text = await new Response(Deno.stdin.readable).text();
  return text.split("\n")[0].trim();
}

/** Runs `webhook <action>`; returns the exit code. */
export async function webhook(
  configPath: string | null,
  action: string,
  args: string[],
  values: {
    events?: string;
    secret?: string;
    id?: string;
    letter?: string[];
    limit: number;
    json: boolean;
  },
): Promise<number> {
  return await withCurrentStore(configPath, async (store, config) => {
    const service = new WebhookService(store, config);
    const events = await cliEvents(config, store);
    const actor = cliActor();
    const print = (value: unknown, text: () => string) =>
      console.log(values.json ? JSON.stringify(value) : text());
    try {
      if (action === "add") {
        const created = await service.create({
          ...(values.id ? { id: values.id } : {}),
          url: args[0],
          events: (values.events ?? "").split(",").map((e) => e.trim()).filter((e) => e !== ""),
          secret: await readSecret(values.secret),
        }, actor);
        print(created, () => `Added webhook "${created.id}" → ${created.body.url}`);
      } else if (action === "list") {
        const { items } = await service.list({ limit: 1000 });
        print(
          items,
          () =>
            items.length === 0
              ? "No webhooks."
              : items.map((w) =>
                `${w.id}\t${w.body.enabled ? "on" : "off"}\t${w.body.url}\t${
                  w.body.events.join(",")
                }\t` +
                `delivered ${w.body.status.delivered}, dead ${w.body.status.dead}, failures ${w.body.status.failures}`
              ).join("\n"),
        );
      } else if (action === "remove") {
        await service.remove(args[0], actor);
        print({ removed: args[0] }, () => `Removed webhook "${args[0]}"`);
      } else if (action === "deliveries") {
        const report = await service.deliveries(args[0], actor, values.limit);
        print(report, () =>
          [
            `backlog ${report.status.backlog ?? 0}, delivered ${report.status.delivered}, dead ` +
            `${report.status.dead}, failures in a row ${report.status.failures}` +
            (report.status.last_error ? `, last error: ${report.status.last_error}` : ""),
            ...report.deliveries.map((d) =>
              `${new Date(d.at).toISOString()}\t${d.node}\t${d.events} events\t` +
              `${d.status ?? "-"}\t${d.duration_ms} ms\t${d.error ?? "ok"}`
            ),
          ].join("\n"));
      } else if (action === "dead-letters") {
        const letters = await service.deadLetters(args[0], actor, { limit: values.limit });
        print(
          letters,
          () =>
            letters.length === 0
              ? "No dead letters."
              : letters.map((l) =>
                `${l.id}\t${new Date(l.created_at).toISOString()}\t${l.events} events\t` +
                `${
                  l.replayed_at ? `replayed ${new Date(l.replayed_at).toISOString()}` : "dead"
                }\t${l.reason}`
              ).join("\n"),
        );
      } else if (action === "replay") {
        const ids = values.letter?.map(Number);
        const result = await service.replay(args[0], actor, ids);
        print(result, () => `Replaying ${result.replayed_events} events to "${args[0]}"`);
      }
      return 0;
    } catch (error) {
      if (error instanceof ValidationError || error instanceof NotFoundError) {
        console.error(`Cannot ${action} webhook: ${error.message}`);
        return 2;
      }
      throw error;
    } finally {
      await events.close(); // the admin_change event, to the webhooks
    }
  });
}
