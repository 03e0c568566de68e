/**
 * `shaping`: lists and edits the stored shaping rules (config objects of kind `shaping_rule`,
 * through core/manage: validated, versioned, audited). Running nodes apply a change within
 * seconds (their config version poll; also within `delivery.rules_reload_interval` and at once
 * on SIGHUP); resuming a pause makes the units it held due again.
 */
import { loadConfig } from "../core/config/mod.ts";
import { openManagement } from "../core/manage/mod.ts";
import { shapingPattern, shapingRule } from "../core/config/delivery_schema.ts";
import { defineCommand } from "./_command.ts";
import { openCurrentStore } from "./_database.ts";
import { cliEvents } from "./_events.ts";
import { emitEvent } from "../core/events/mod.ts";
import { UsageError } from "./_usage.ts";
import { cliActor, reportErrors } from "./objects.ts";

/** The `shaping` command. */
export const shapingCommand = defineCommand({
  name: "shaping",
  summary: "List or change the stored shaping rules (limits, pauses)",
  description: `Lists and edits the stored shaping rules; they apply on top of the config file's
delivery.shaping. PATTERN is "*", a domain, "*.example.com", "mx:*.example.net" or "pool:NAME".
Running servers apply changes within seconds. Every change is in "fastmta audit".`,
  options: {},
  subcommands: [
    { name: "list", summary: "Print the config file's rules and the stored rules (JSON)" },
    {
      name: "set",
      args: "PATTERN JSON",
      summary: `Store a rule, e.g. set gmail.com '{"max_connections": 5}'`,
    },
    { name: "delete", args: "PATTERN", summary: "Remove a stored rule" },
    {
      name: "pause",
      args: "PATTERN",
      summary: 'Store "paused": true for a destination or pool:NAME',
    },
    { name: "resume", args: "PATTERN", summary: 'Store "paused": false' },
  ],
  database: "current",
  run: ({ configPath, action, args }) => shaping(configPath, [action!, ...args]),
});

function usage(message: string): never {
  throw new UsageError(message);
}

function checkPattern(pattern: string | undefined): string {
  if (!pattern) usage("Missing PATTERN");
  const parsed = shapingPattern.safeParse(pattern);
  if (!parsed.success) usage(`Invalid pattern "${pattern}": ${parsed.error.issues[0].message}`);
  return pattern;
}

function checkRule(rule: unknown): Record<string, unknown> {
  const parsed = shapingRule.safeParse(rule);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    usage(`Invalid rule: ${issue.path.join(".") || "(rule)"}: ${issue.message}`);
  }
  return rule as Record<string, unknown>;
}

/** Runs one shaping action; returns the exit code. */
export async function shaping(configPath: string | null, args: string[]): Promise<number> {
  const [action, pattern, json] = args;
  const config = await loadConfig(configPath);
  const store = await openCurrentStore(config, "admin");
  const events = await cliEvents(config, store);
  const rules = openManagement(store, { config }).objects.shaping_rule;
  // Create or replace, through the service (audited with the CLI as the channel).
  const put = (pattern: string, rule: unknown) =>
    reportErrors("shaping rule", async () => {
      const body = { pattern, rule };
      const found = await rules.get(pattern);
      if (found) await rules.update(pattern, body, cliActor(), { ifVersion: found.version });
      else await rules.create(body, cliActor());
      return 0;
    });
  try {
    const stored = await store.listShapingRules();
    switch (action) {
      case "list":
        console.log(JSON.stringify(
          {
            file: config.delivery.shaping,
            stored: Object.fromEntries(stored.map((r) => [r.pattern, r.rule])),
          },
          null,
          2,
        ));
        return 0;
      case "set": {
        checkPattern(pattern);
        let rule: unknown;
        try {
          rule = JSON.parse(json);
        } catch (error) {
          usage(`Cannot parse JSON: ${(error as Error).message}`);
        }
        const code = await put(pattern, checkRule(rule));
        if (code === 0) console.log(`stored ${pattern}`);
        return code;
      }
      case "delete": {
        checkPattern(pattern);
        const found = await rules.get(pattern);
        if (found) await rules.remove(pattern, cliActor(), { ifVersion: found.version });
        console.log(found ? `deleted ${pattern}` : `no stored rule for ${pattern}`);
        return found ? 0 : 1;
      }
      case "pause":
      case "resume": {
        checkPattern(pattern);
        const current = stored.find((r) => r.pattern === pattern)?.rule;
        const rule = checkRule({
          ...(current && typeof current === "object" ? current : {}),
          paused: action === "pause",
        });
        const code = await put(pattern, rule);
        if (code === 0) {
          emitEvent({
            type: action === "pause" ? "paused" : "resumed",
            subject: pattern,
            actor: cliActor().name,
            reason: "shaping rule",
          });
          console.log(`${action === "pause" ? "paused" : "resumed"} ${pattern}`);
        }
        return code;
      }
      default:
        usage(`Unknown action "${action}"`);
    }
  } finally {
    await events.close();
    await store.close();
  }
}
