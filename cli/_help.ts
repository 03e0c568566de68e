/**
 * Usage text rendered from the registry: `fastmta --help`, `fastmta CMD --help`,
 * `fastmta help CMD [ACTION]`, and the blocks of docs/cli.md.
 */
import { alternatives } from "./_parse.ts";
import {
  type Command,
  type DatabaseUse,
  GLOBAL_OPTIONS,
  type OptionSpec,
  type Subcommand,
} from "./_command.ts";

const WIDTH = 100;

const DATABASE: Record<DatabaseUse, string> = {
  migrates: "applies pending schema migrations.",
  current: "needs the current schema; when it is behind, says so and exits 2 without changing " +
    'anything (run "fastmta migrate").',
  "current-or-new": "needs the current schema; sets it up in a brand-new empty database (no " +
    'node can be using it); one that is behind is reported, exit 2 (run "fastmta migrate").',
};

/** Greedy word wrap to `width` columns; lines after the first start with `indent` spaces. */
export function wrap(text: string, width: number, indent = 0): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines.join(`\n${" ".repeat(indent)}`);
}

/** Two columns: terms padded to the widest (at most 32), descriptions wrapped after them. */
function table(rows: [string, string][]): string {
  const column = Math.min(32, Math.max(...rows.map(([term]) => term.length)) + 2);
  return rows.map(([term, text]) => {
    const head = `  ${term}`;
    const pad = head.length + 1 > column + 2
      ? `${head}\n${" ".repeat(column + 2)}`
      : head.padEnd(column + 2);
    return pad + wrap(text, WIDTH - column - 2, column + 2);
  }).join("\n");
}

function optionTerm(name: string, spec: OptionSpec): string {
  const long = spec.type === "boolean" ? `--${name}` : `--${name} ${spec.value}`;
  return spec.short ? `-${spec.short}, ${long}` : long;
}

function optionText(spec: OptionSpec, actions: string[]): string {
  const notes: string[] = [];
  if (spec.type === "choice") notes.push(alternatives(spec.choices));
  if (spec.type === "integer" && (spec.min !== undefined || spec.max !== undefined)) {
    notes.push(`${spec.min ?? "…"} to ${spec.max ?? "…"}`);
  }
  if (spec.type === "string" && spec.multiple) notes.push("may be repeated");
  if ("default" in spec && spec.default !== undefined) notes.push(`default: ${spec.default}`);
  let text = notes.length > 0 ? `${spec.description} (${notes.join("; ")})` : spec.description;
  if (actions.length > 0) text += ` [${actions.join(", ")}]`;
  return text;
}

function usageLine(command: Command, action?: Subcommand): string {
  const parts = ["fastmta", command.name];
  // The default action may be left out: "fastmta queue [status]".
  if (action) parts.push(action.name === command.defaultAction ? `[${action.name}]` : action.name);
  const args = action ? action.args : command.args;
  if (args) parts.push(args);
  parts.push("[options]");
  return parts.join(" ");
}

/** `fastmta CMD --help` (or, with `action`, the usage of that action only). */
export function renderHelp(command: Command, action?: Subcommand): string {
  const actions = action ? [action] : command.subcommands ?? [];
  const usages = actions.length > 0
    ? actions.map((a) => usageLine(command, a))
    : [usageLine(command)];
  const sections = [
    `Usage: ${usages.join("\n       ")}`,
    action ? `${action.summary}.` : command.description,
  ];
  if (!action && command.subcommands) {
    sections.push(
      "Actions:\n" + table(command.subcommands.map((s) => [
        s.args ? `${s.name} ${s.args}` : s.name,
        s.summary,
      ])),
    );
  }
  const rows: [string, string][] = [];
  for (const [name, spec] of Object.entries(command.options)) {
    if (action && !action.options?.includes(name)) continue;
    const users = !action && command.subcommands
      ? command.subcommands.filter((s) => s.options?.includes(name)).map((s) => s.name)
      : [];
    rows.push([optionTerm(name, spec), optionText(spec, users)]);
  }
  for (const [name, spec] of Object.entries(GLOBAL_OPTIONS)) {
    rows.push([optionTerm(name, spec), optionText(spec, [])]);
  }
  sections.push(`Options:\n${table(rows)}`);
  sections.push(wrap(`Database: ${DATABASE[command.database]}`, WIDTH, 0));
  if (!action && command.epilog) sections.push(command.epilog);
  return sections.join("\n\n");
}

/** `fastmta --help`: every command with its summary. */
export function renderCommandList(commands: readonly Command[]): string {
  return [
    "Usage: fastmta <command> [options]",
    "Commands:\n" + table(commands.map((c) => [c.name, c.summary])),
    'Run "fastmta <command> --help" (or "fastmta help <command>") for a command\'s options.\n' +
    wrap(
      "Exit codes: 0 ok, 1 runtime failure (try again), 2 bad usage, bad configuration or a " +
        "database schema that is behind.",
      WIDTH,
    ),
  ].join("\n\n");
}
