/**
 * `suppression`: the suppression list (core/manage/suppressions.ts). Addresses that
 * hard-bounced are added by the bounce stage; operators add, remove, import and export
 * entries here. Each entry has a reason, a source, a scope (every sending domain, or one) and
 * an optional expiry. The delivery stage reads the list for every unit, so a change holds for
 * the next message, on every node, without a restart.
 */
import { parseDuration } from "../core/config/duration.ts";
import { SuppressionService } from "../core/manage/suppressions.ts";
import { ValidationError } from "../core/manage/types.ts";
import { defineCommand } from "./_command.ts";
import { withCurrentStore } from "./_database.ts";
import { cliActor, withManageErrors } from "./_manage.ts";

/** The `suppression` command. */
export const suppressionCommand = defineCommand({
  name: "suppression",
  summary: "Show, add, lift, import or export suppressed addresses",
  description:
    `Mail to a suppressed address is not sent: the recipient is marked "suppressed" before any
connection. Hard bounces (the mailbox does not exist) add entries for bounce.suppression_time;
"add" adds one by hand, for every sending domain or, with --scope, for mail from one domain
(and its subdomains). Entries without --expires never expire. "remove" lets mail to ADDRESS go
out again. "import" reads CSV with a header row (address required; scope, source, reason,
expires_at optional) and stores all rows or none; "export" writes the same columns.`,
  options: {
    json: { type: "boolean", description: "Print JSON" },
    reason: { type: "string", value: "TEXT", description: "Why the address is suppressed" },
    scope: {
      type: "string",
      value: "DOMAIN",
      description: "Only for mail from this sending domain (default: every domain)",
    },
    expires: {
      type: "string",
      value: "WHEN",
      description: 'Expiry: a duration from now ("30d") or an ISO 8601 date/time',
    },
    prefix: { type: "string", value: "TEXT", description: "Only addresses that start so" },
  },
  subcommands: [
    { name: "list", summary: "List the active suppressions", options: ["json", "scope", "prefix"] },
    {
      name: "add",
      args: "ADDRESS",
      summary: "Suppress ADDRESS",
      options: ["reason", "scope", "expires", "json"],
    },
    {
      name: "remove",
      args: "ADDRESS",
      summary: "Let mail to ADDRESS go out again",
      options: [
        "scope",
      ],
    },
    { name: "import", args: "FILE|-", summary: "Add the entries of a CSV file (all or none)" },
    { name: "export", args: "[FILE]", summary: "Write the active entries as CSV" },
  ],
  database: "current",
  epilog: `Examples:
  fastmta suppression add someone@example.org --reason "asked by phone" --expires 90d
  fastmta suppression export > suppressions.csv
  fastmta suppression import suppressions.csv`,
  run: ({ configPath, action, args, values }) => suppression(configPath, action!, args, values),
});

interface SuppressionOptions {
  json: boolean;
  reason?: string;
  scope?: string;
  expires?: string;
  prefix?: string;
}

/** Runs one `suppression` action; returns the exit code. */
export async function suppression(
  configPath: string | null,
  action: string,
  args: string[],
  options: SuppressionOptions,
): Promise<number> {
  return await withCurrentStore(configPath, async (store) => {
    const service = new SuppressionService({ store });
    const actor = cliActor();
    return await withManageErrors(async () => {
      switch (action) {
        case "add": {
          const entry = await service.add({
            address: args[0],
            ...(options.scope !== undefined ? { scope: options.scope } : {}),
            ...(options.reason !== undefined ? { reason: options.reason } : {}),
            ...(options.expires !== undefined ? { expires_at: expiry(options.expires) } : {}),
          }, actor);
          if (options.json) console.log(JSON.stringify(entry));
          else console.log(`Suppressed "${entry.address}"${scopeText(entry.scope)}`);
          return 0;
        }
        case "remove":
          await service.remove(args[0], actor, { scope: options.scope });
          console.log(`Removed "${args[0].toLowerCase()}" from the suppression list`);
          return 0;
        case "import": {
          const text = args[0] === "-"
            ? await new Response(Deno.stdin.readable).text()
            : await Deno.readTextFile(args[0]);
          console.log(`Imported ${await service.importCsv(text, actor)} entries`);
          return 0;
        }
        case "export": {
          const csv = await service.exportCsv(actor);
          if (args[0] === undefined || args[0] === "-") await Deno.stdout.write(encode(csv));
          else await Deno.writeTextFile(args[0], csv);
          return 0;
        }
        default:
          return await list(service, options);
      }
    });
  });
}

async function list(service: SuppressionService, options: SuppressionOptions): Promise<number> {
  const actor = cliActor();
  const items = [];
  let cursor: string | undefined;
  do {
    const page = await service.list(
      { cursor, limit: 1000, scope: options.scope, address_prefix: options.prefix },
      actor,
    );
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < 100_000);
  if (options.json) {
    console.log(JSON.stringify(items));
  } else if (items.length === 0) {
    console.log("No suppressed addresses.");
  } else {
    for (const e of items) {
      const until = e.expires_at === null ? "never expires" : `until ${iso(e.expires_at)}`;
      // The first columns as before scopes and sources existed (scripts read them).
      console.log(
        `${e.address}\t${e.category}\t${until}\t${e.reason ?? ""}\t` +
          `scope=${e.scope || "*"} source=${e.source}`,
      );
    }
  }
  return 0;
}

/** `--expires`: a duration from now, or a date the schema checks. */
function expiry(value: string): number | string {
  if (/^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)\s*$/.test(value)) return Date.now() + parseDuration(value);
  if (Number.isNaN(Date.parse(value))) {
    throw new ValidationError([{
      path: "expires",
      message: `"${value}" is neither a duration ("30d") nor an ISO 8601 date`,
    }]);
  }
  return value;
}

function scopeText(scope: string): string {
  return scope ? ` for mail from ${scope}` : " for every sending domain";
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function encode(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
