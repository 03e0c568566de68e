/**
 * `audit`: the management plane's audit log (core/manage/audit.ts): who changed which object,
 * when, through which face, before and after; `revert ID` restores an entry's before state as a
 * new, itself audited change.
 */
import type { AuditEntry } from "../core/manage/mod.ts";
import { defineCommand } from "./_command.ts";
import { withManagement } from "./_manage.ts";
import { cliActor } from "./_manage.ts";
import { UsageError } from "./_usage.ts";

function line(e: AuditEntry): string {
  const at = new Date(e.at).toISOString();
  return `${e.id}  ${at}  ${e.actor} (${e.role}, ${e.channel})  ${e.action} ${e.kind} ${e.object_id}` +
    (e.config_version ? `  → version ${e.config_version}` : "");
}

/** The `audit` command. */
export const auditCommand = defineCommand({
  name: "audit",
  summary: "Show the audit log or revert an entry",
  description:
    `The audit log of configuration changes and operator actions, newest first. "revert ID" puts
the object back as it was before that entry (a new change, audited as "revert").`,
  options: {
    json: { type: "boolean", description: "Print JSON (with before and after)" },
    kind: { type: "string", value: "KIND", description: "Only entries of this kind (vmta, …)" },
    object: { type: "string", value: "ID", description: "Only entries of this object" },
    limit: { type: "integer", value: "N", min: 1, max: 1000, default: 50, description: "Entries" },
  },
  subcommands: [
    { name: "list", summary: "Print entries", options: ["json", "kind", "object", "limit"] },
    { name: "revert", args: "ID", summary: "Restore the before state of entry ID" },
  ],
  defaultAction: "list",
  database: "current",
  run: ({ configPath, action, args, values }) =>
    withManagement(configPath, "audit entry", async (management) => {
      if (action === "revert") {
        const id = Number(args[0]);
        if (!Number.isInteger(id) || id < 1) throw new UsageError("Expected an entry ID");
        const entry = await management.audit.revert(id, cliActor());
        console.log(values.json ? JSON.stringify(entry) : line(entry));
        return 0;
      }
      const page = await management.audit.list({
        limit: values.limit,
        kind: values.kind,
        object_id: values.object,
      });
      if (values.json) console.log(JSON.stringify(page.items));
      else for (const e of page.items) console.log(line(e));
      return 0;
    }),
});
