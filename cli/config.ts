/**
 * `config`: the cluster-wide overrides of the configuration file (core/cluster/config_sync.ts).
 * `list` prints them; `set KEY VALUE` (VALUE is JSON, or a bare string) and `unset KEY` store a
 * change and broadcast it, so every node applies live settings within a moment.
 */
import {
  broadcastConfigChange,
  checkOverrideKey,
  readOverrides,
  writeOverride,
} from "../core/cluster/config_sync.ts";
import { isLiveSetting } from "../core/cluster/live.ts";
import { ConfigError } from "../core/config/mod.ts";
import { brokerSettings } from "../core/queue/settings.ts";
import { defineCommand } from "./_command.ts";
import { withCurrentStore } from "./_database.ts";

/** The `config` command. */
export const configCommandSpec = defineCommand({
  name: "config",
  summary: "Show or change cluster-wide config overrides",
  description:
    `Cluster-wide overrides of the configuration file, stored in the database and broadcast to every
node. KEY as written in the file ("smtp.max_recipients"); VALUE is JSON or a bare string. Live
settings apply within seconds; others when a node restarts.`,
  options: { json: { type: "boolean", description: "Print JSON" } },
  subcommands: [
    { name: "list", summary: "Print the stored overrides and their version", options: ["json"] },
    { name: "set", args: "KEY VALUE", summary: "Store an override and broadcast it" },
    { name: "unset", args: "KEY", summary: "Remove an override and broadcast it" },
  ],
  database: "current",
  run: ({ configPath, action, args, values }) =>
    configCommand(configPath, [action!, ...args], values),
});

/** Runs `config list|set|unset`; returns the exit code. */
export async function configCommand(
  configPath: string | null,
  args: string[],
  options: { json: boolean },
): Promise<number> {
  const [action, key, rawValue] = args;
  if (action !== "list") {
    const problem = checkOverrideKey(key);
    if (problem) throw new ConfigError(problem);
  }
  return await withCurrentStore(configPath, async (store, config) => {
    if (action === "list") {
      const overrides = await readOverrides(store);
      if (options.json) console.log(JSON.stringify(overrides));
      else {
        for (const [k, v] of Object.entries(overrides.values)) {
          console.log(`${k} = ${JSON.stringify(v)}${isLiveSetting(k) ? "" : "  (at restart)"}`);
        }
        console.log(`version ${overrides.version}`);
      }
      return 0;
    }
    let value: unknown = undefined;
    if (action === "set") {
      try {
        value = JSON.parse(rawValue);
      } catch {
        value = rawValue; // a bare string: "5m", a host name…
      }
    }
    const by = `cli@${config.nodeId}`;
    const written = await writeOverride(store, config, { key, value, by });
    const settings = brokerSettings(config);
    let told = "every node re-reads it within cluster.config_poll";
    if (settings) {
      try {
        await broadcastConfigChange(settings, { by, at: Date.now(), keys: [key] });
        told = "broadcast to every node";
      } catch (error) {
        told = `not broadcast (${
          (error as Error).message
        }); nodes re-read it within cluster.config_poll`;
      }
    }
    console.log(
      `${action === "set" ? "set" : "unset"} ${key}: version ${written.version}, ${told}` +
        (isLiveSetting(key) ? "" : "; applies when a node restarts"),
    );
    return 0;
  });
}
