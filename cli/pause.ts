/**
 * `pause`: cluster-wide pauses by any combination of source (`--pool` or `--vmta`), destination
 * (`--domain`) and `--tag`, with an optional end (`--for 2h`). Stored in the shared database;
 * every running node holds matching units before any DNS lookup or connection within about a
 * second, and lets them go when the pause is removed or ends (core/schedule/pauses.ts).
 */
import { defineCommand } from "./_command.ts";
import { withCurrentStore } from "./_database.ts";
import { pauseOperation } from "./queue_ops.ts";

/** The `pause` command. */
export const pauseCommand = defineCommand({
  name: "pause",
  summary: "Pause delivery by source, destination and tag, cluster-wide",
  description:
    "Stores a pause that every node applies within about a second: units it matches are held\n" +
    "before any DNS lookup or connection (no attempt used) with the pause named in their state,\n" +
    "and are due again when it is removed or ends. Every criterion given must match.",
  options: {
    domain: { type: "string", value: "DOMAIN", description: "Destination domain (or *.DOMAIN)" },
    pool: { type: "string", value: "NAME", description: "Source: the message's pool" },
    vmta: { type: "string", value: "NAME", description: "Source: the message's vmta" },
    tag: { type: "string", value: "TAG", description: "The message's tag" },
    site: {
      type: "string",
      value: "HOST",
      description: "Destination site: one of its MX hosts, or *.DOMAIN (held after the MX lookup)",
    },
    for: { type: "string", value: "DURATION", description: 'Ends by itself after this ("2h")' },
    reason: { type: "string", value: "TEXT", description: "Why (shown in held units' state)" },
    json: { type: "boolean", description: "Print the list as JSON" },
  },
  subcommands: [
    {
      name: "add",
      summary: "Store a pause (prints it, with its id)",
      options: ["domain", "pool", "vmta", "tag", "site", "for", "reason"],
    },
    { name: "list", summary: "The stored pauses", options: ["json"] },
    { name: "remove", args: "ID", summary: "Remove a pause: what it held is due again" },
  ],
  database: "current",
  run: async ({ configPath, values, action, args }) => {
    return await withCurrentStore(configPath, async (store, config) => {
      return await pauseOperation(config, store, {
        action: action!,
        id: args[0],
        values: values as Record<string, unknown>,
      });
    });
  },
});
