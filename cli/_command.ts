/**
 * The shape of a command in the registry (cli/mod.ts): what it is called, what it takes and how
 * it uses the database. main.ts parses and checks the command line against it (cli/_parse.ts),
 * `--help` and docs/cli.md are rendered from it (cli/_help.ts, cli/reference.ts), and only then
 * is `run` called, with values already converted to their types.
 */

interface OptionBase {
  /** One line (wrapped when printed): what the option does. */
  description: string;
  /** One-letter alias, without the dash. */
  short?: string;
}

/** A flag: present or not. */
export interface BooleanOption extends OptionBase {
  type: "boolean";
}

/** A text value; `multiple` collects every occurrence into a list. */
export interface StringOption extends OptionBase {
  type: "string";
  /** Placeholder shown in usage, e.g. "FILE". */
  value: string;
  multiple?: boolean;
  default?: string;
}

/** A whole number, checked against `min`/`max`. */
export interface IntegerOption extends OptionBase {
  type: "integer";
  value: string;
  min?: number;
  max?: number;
  default?: number;
}

/** One of a fixed list of words (matched without regard to case). */
export interface ChoiceOption extends OptionBase {
  type: "choice";
  value: string;
  choices: readonly string[];
  default?: string;
}

/** What an option takes. */
export type OptionSpec = BooleanOption | StringOption | IntegerOption | ChoiceOption;

/** A command's options by long name (without the dashes). */
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

type ValueOf<S extends OptionSpec> = S extends BooleanOption ? boolean
  : S extends IntegerOption ? number
  : S extends ChoiceOption ? S["choices"][number]
  : S extends { multiple: true } ? string[]
  : string;

/** Parsed values: flags are always there; others when given or when they have a default. */
export type OptionValues<O extends OptionSpecs> = {
  [K in keyof O]: O[K] extends BooleanOption | { default: unknown } ? ValueOf<O[K]>
    : ValueOf<O[K]> | undefined;
};

/** An action of a command with actions (`dkim generate`, `user list`). */
export interface Subcommand<Name extends string = string> {
  name: string;
  /** Positional arguments, e.g. "DOMAIN SELECTOR"; "[NAME]" is optional. */
  args?: string;
  summary: string;
  /** The command's options this action accepts (`--config` and `--help` always are). */
  options?: readonly Name[];
}

/**
 * How a command uses the database. Only `serve` and `migrate` change the schema: a status or
 * admin command from a newer binary must not migrate a cluster that older nodes still run.
 * - `migrates`: applies pending migrations (or lists them).
 * - `current`: needs every migration applied; otherwise says so and exits 2, changing nothing.
 * - `current-or-new`: as `current`, but sets up a brand-new database that has no schema at all
 *   (no node can be using it), so `fastmta send` works before any server has run.
 */
export type DatabaseUse = "migrates" | "current" | "current-or-new";

/** What `run` gets: the parsed command line. */
export interface CommandInput<O extends OptionSpecs> {
  /** `--config`, else `FASTMTA_CONFIG`, else null (built-in defaults). */
  configPath: string | null;
  /** The action, for a command with subcommands. */
  action?: string;
  /** Positional arguments after the command (and the action). */
  args: string[];
  values: OptionValues<O>;
}

/** A command in the registry. */
export interface Command<O extends OptionSpecs = OptionSpecs> {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Positional arguments of a command without actions, e.g. "[FILE|-]". */
  args?: string;
  /** Paragraphs shown under the usage lines (wrapped by hand, at most 96 columns). */
  description: string;
  options: O;
  subcommands?: readonly Subcommand<Extract<keyof O, string>>[];
  /** The action run when none is named (`fastmta queue` is `fastmta queue status`). */
  defaultAction?: string;
  database: DatabaseUse;
  /** Text shown after the options (examples, exit codes), wrapped by hand. */
  epilog?: string;
  /** Runs the command; returns the exit code (0 ok, 1 runtime failure, 2 refused). */
  run(input: CommandInput<O>): Promise<number>;
}

/**
 * Declares a command; `const` keeps the option specs literal so `run` sees typed values. The
 * registry holds it untyped: the parser builds the values from these same specs.
 */
export function defineCommand<const O extends OptionSpecs>(command: Command<O>): Command {
  return command as unknown as Command;
}

/** The options every command takes, ahead of its own. */
export const GLOBAL_OPTIONS = {
  config: {
    type: "string",
    value: "FILE",
    description: "JSON configuration (default: $FASTMTA_CONFIG, else built-in defaults)",
  },
  help: { type: "boolean", short: "h", description: "Show this help" },
} as const satisfies OptionSpecs;
