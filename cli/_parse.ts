/**
 * Strict command-line parsing against the registry. Tokens come from node:util `parseArgs`
 * (built into Deno, no dependency); this module checks them against the command's own option
 * set, so `fastmta serve --bits 3` is refused instead of ignored, and converts values to their
 * types. Every problem is a UsageError whose message names the option or argument.
 */
import { parseArgs } from "node:util";
import {
  type Command,
  GLOBAL_OPTIONS,
  type OptionSpec,
  type OptionSpecs,
  type OptionValues,
  type Subcommand,
} from "./_command.ts";
import { UsageError } from "./_usage.ts";

/** What the command line asks for. */
export type ParsedCommandLine =
  | { kind: "help"; command?: Command; action?: Subcommand }
  | {
    kind: "run";
    command: Command;
    action?: Subcommand;
    args: string[];
    values: OptionValues<OptionSpecs>;
  };

/** "a, b or c" */
export function alternatives(words: readonly string[]): string {
  return words.length < 2 ? words.join("") : `${words.slice(0, -1).join(", ")} or ${words.at(-1)}`;
}

/** Finds a command by name; `help` and `-h`/`--help` ask for usage. */
export function parseCommandLine(commands: readonly Command[], argv: string[]): ParsedCommandLine {
  const [name, ...rest] = argv;
  if (name === "-h" || name === "--help") return { kind: "help" };
  if (name === "help") {
    if (rest.length === 0) return { kind: "help" };
    const command = findCommand(commands, rest[0]);
    const action = rest[1] === undefined ? undefined : findAction(command, rest[1]);
    return { kind: "help", command, action };
  }
  if (name === undefined) throw new UsageError("Missing command");
  return parseCommand(findCommand(commands, name), rest);
}

function findCommand(commands: readonly Command[], name: string): Command {
  const command = commands.find((c) => c.name === name);
  if (!command) throw new UsageError(`Unknown command "${name}"`);
  return command;
}

function findAction(command: Command, name: string | undefined): Subcommand {
  const actions = command.subcommands!.map((s) => s.name);
  const expected = `expected ${alternatives(actions)}`;
  if (name === undefined) {
    throw new UsageError(`Missing action for "${command.name}": ${expected}`, command);
  }
  const action = command.subcommands!.find((s) => s.name === name);
  if (!action) {
    throw new UsageError(`Unknown action "${name}" for "${command.name}": ${expected}`, command);
  }
  return action;
}

function parseCommand(command: Command, argv: string[]): ParsedCommandLine {
  const specs: OptionSpecs = { ...command.options, ...GLOBAL_OPTIONS };
  const { tokens } = parseArgs({
    args: argv,
    options: Object.fromEntries(
      Object.entries(specs).map(([name, spec]) => [name, {
        type: spec.type === "boolean" ? "boolean" as const : "string" as const,
        ...(spec.short ? { short: spec.short } : {}),
      }]),
    ),
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  const positionals = tokens.flatMap((t) => t.kind === "positional" ? [t.value] : []);
  const options = tokens.flatMap((t) => t.kind === "option" ? [t] : []);
  if (options.some((o) => o.name === "help")) {
    const first = command.subcommands?.find((s) => s.name === positionals[0]);
    return { kind: "help", command, action: first };
  }
  // Before the action is looked up: the value of an unknown "--bits 3" reads as a positional.
  const unknown = options.find((o) => !(o.name in specs));
  if (unknown) {
    throw new UsageError(`Unknown option "${unknown.rawName}" for "${command.name}"`, command);
  }
  const action = command.subcommands
    ? findAction(command, positionals.length === 0 ? command.defaultAction : positionals.shift())
    : undefined;
  const where = action ? `${command.name} ${action.name}` : command.name;
  const allowed = new Set<string>([
    ...Object.keys(GLOBAL_OPTIONS),
    ...(action ? action.options ?? [] : Object.keys(command.options)),
  ]);
  const values: Record<string, unknown> = {};
  for (const token of options) {
    const spec = specs[token.name];
    if (!spec || !allowed.has(token.name)) {
      throw new UsageError(`Unknown option "${token.rawName}" for "${where}"`, command);
    }
    const shown = `--${token.name}`;
    if (spec.type === "boolean") {
      if (token.inlineValue) throw new UsageError(`Option "${shown}" takes no value`, command);
      values[token.name] = true;
      continue;
    }
    const raw = token.value;
    // As parseArgs' strict mode: "--config --json" is a forgotten value, not a file named so.
    if (raw === undefined || (!token.inlineValue && raw.length > 1 && raw.startsWith("-"))) {
      throw new UsageError(`Option "${shown}" needs a value (${spec.value})`, command);
    }
    const value = convert(spec, shown, raw, command);
    if (spec.type === "string" && spec.multiple) {
      values[token.name] = [...(values[token.name] as string[] ?? []), value];
    } else if (token.name in values) {
      throw new UsageError(`Option "${shown}" is given more than once`, command);
    } else values[token.name] = value;
  }
  for (const [name, spec] of Object.entries(specs)) {
    if (name in values) continue;
    if (spec.type === "boolean") values[name] = false;
    else if (spec.default !== undefined) values[name] = spec.default;
  }
  checkArgs(command, action, positionals);
  return {
    kind: "run",
    command,
    action,
    args: positionals,
    values: values as OptionValues<OptionSpecs>,
  };
}

function convert(spec: OptionSpec, shown: string, raw: string, command: Command): unknown {
  const invalid = (expected: string) =>
    new UsageError(`Invalid value "${raw}" for "${shown}": expected ${expected}`, command);
  switch (spec.type) {
    case "integer": {
      const n = /^-?\d+$/.test(raw) ? Number(raw) : NaN;
      const range = spec.min !== undefined && spec.max !== undefined
        ? ` from ${spec.min} to ${spec.max}`
        : spec.min !== undefined
        ? ` of at least ${spec.min}`
        : spec.max !== undefined
        ? ` of at most ${spec.max}`
        : "";
      if (!Number.isSafeInteger(n) || n < (spec.min ?? -Infinity) || n > (spec.max ?? Infinity)) {
        throw invalid(`an integer${range}`);
      }
      return n;
    }
    case "choice": {
      const choice = spec.choices.find((c) => c === raw.toLowerCase());
      if (choice === undefined) throw invalid(alternatives(spec.choices));
      return choice;
    }
    default:
      return raw;
  }
}

/** Checks the count of positional arguments against "NAME [OTHER]" ("FIELD..." takes the rest). */
function checkArgs(command: Command, action: Subcommand | undefined, positionals: string[]): void {
  const names = (action ? action.args : command.args)?.split(" ").filter(Boolean) ?? [];
  const where = action ? `${command.name} ${action.name}` : command.name;
  for (const [i, name] of names.entries()) {
    if (positionals[i] === undefined && !name.startsWith("[")) {
      throw new UsageError(`Missing ${name} for "${where}"`, command);
    }
  }
  if (positionals.length > names.length && !names.some((n) => /\.\.\.\]?$/.test(n))) {
    throw new UsageError(
      `Unexpected argument "${positionals[names.length]}" for "${where}"`,
      command,
    );
  }
}
