/**
 * `shaping`: lists and edits the stored shaping rules (config objects of kind `shaping_rule`,
 * through core/manage: validated, versioned, audited). Running nodes apply a change within
 * seconds (their config version poll; also within `delivery.rules_reload_interval` and at once
 * on SIGHUP). `pause` and `resume` of a domain or `pool:NAME` store a cluster-wide pause
 * instead (`fastmta pause`), held before any DNS lookup; resuming lets its units go at once.
 */
import type { Config } from "../core/config/mod.ts";
import { QueueService } from "../core/manage/queue_service.ts";
import type { SqlStore } from "../core/store/mod.ts";
import { openManagement } from "../core/manage/mod.ts";
import { shapingPattern, shapingRule } from "../core/config/delivery_schema.ts";
import { defineCommand } from "./_command.ts";
import { withCurrentStore } from "./_database.ts";
import { cliEvents } from "./_events.ts";
import { emitEvent } from "../core/events/mod.ts";
import { UsageError } from "./_usage.ts";
import { reportErrors } from "./_manage.ts";
import { cliActor } from "./_manage.ts";

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
      summary: "Pause a domain or pool:NAME (a stored pause); mx:… and * as a rule",
    },
    { name: "resume", args: "PATTERN", summary: 'Remove that pause (or store "paused": false)' },
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

/**
 * What `shaping pause PATTERN` stores as a cluster-wide pause (core/schedule/pauses.ts: held
 * before any DNS lookup, so a paused domain that would NXDOMAIN is held too): a domain or
 * `*.domain` as the destination, `pool:NAME` as the source. `mx:` patterns name a site, known
 * only after the MX lookup, and `*` is every destination: those stay shaping rules, applied by
 * the delivery workers after routing.
 */
function pauseTarget(pattern: string): Record<string, string> | null {
  if (pattern.startsWith("pool:")) return { source_kind: "pool", source: pattern.slice(5) };
  if (pattern === "*" || pattern.includes(":")) return null;
  return { domain: pattern.toLowerCase() };
}

/** Adds the pause, or removes every pause of exactly that target. */
async function storedPause(
  config: Config,
  store: SqlStore,
  action: string,
  pattern: string,
  target: Record<string, string>,
): Promise<{ rulePaused: boolean }> {
  const service = new QueueService(store, config, console.error);
  const actor = cliActor();
  try {
    if (action === "pause") {
      const p = await service.addPause(actor, { ...target, reason: "shaping pause" });
      console.log(`paused ${pattern} (pause ${p.id}; every node holds it within a second)`);
      return { rulePaused: false };
    }
    const same = (await service.listPauses(actor)).filter((p) =>
      p.tag === null && p.domain === (target.domain ?? null) &&
      p.source_kind === (target.source_kind ?? null) && p.source === (target.source ?? null)
    );
    for (const p of same) await service.removePause(actor, p.id);
    const rule = (await store.listShapingRules()).find((r) => r.pattern === pattern)?.rule as
      | { paused?: boolean }
      | undefined;
    if (same.length > 0 || !rule?.paused) {
      console.log(`resumed ${pattern} (${same.length} pauses removed)`);
    }
    return { rulePaused: rule?.paused === true };
  } finally {
    await service.close();
  }
}

/** Runs one shaping action; returns the exit code. */
export async function shaping(configPath: string | null, args: string[]): Promise<number> {
  const [action, pattern, json] = args;
  return await withCurrentStore(configPath, async (store, config) => {
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
          const target = pauseTarget(pattern);
          if (target) {
            const held = await storedPause(config, store, action, pattern, target);
            // A rule paused by an older fastmta is resumed as well.
            if (action === "pause" || !held.rulePaused) return 0;
          }
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
    }
  });
}
