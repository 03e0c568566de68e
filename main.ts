/**
 * fastmta command line: parses the arguments against the command registry (cli/mod.ts) and
 * dispatches; each command is a module in cli/.
 * Exit codes: 0 ok, 1 runtime failure, 2 bad usage, bad configuration or a schema that is behind.
 */
import { ConfigError } from "./core/config/mod.ts";
import { SchemaBehindError } from "./cli/_database.ts";
import { renderCommandList, renderHelp } from "./cli/_help.ts";
import { parseCommandLine, type ParsedCommandLine } from "./cli/_parse.ts";
import { UsageError } from "./cli/_usage.ts";
import { COMMANDS } from "./cli/mod.ts";
import { sendmail } from "./cli/sendmail.ts";

/** Runs one command line; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  if (args.length === 0) {
    console.error(renderCommandList(COMMANDS));
    return 2;
  }
  // sendmail's flags are not ours (-oi, -fADDR): that face parses its own, except for --help.
  if (args[0] === "sendmail" && !args.slice(1).some((a) => a === "--help" || a === "-h")) {
    return await sendmail(args.slice(1), Deno.env.get("FASTMTA_CONFIG") ?? null);
  }
  let parsed: ParsedCommandLine;
  try {
    parsed = parseCommandLine(COMMANDS, args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return usageError(error, error.command);
  }
  if (parsed.kind === "help") {
    console.log(
      parsed.command ? renderHelp(parsed.command, parsed.action) : renderCommandList(COMMANDS),
    );
    return 0;
  }
  const { command, action, args: positionals, values } = parsed;
  const configPath = (values.config as string | undefined) ?? Deno.env.get("FASTMTA_CONFIG") ??
    null;
  try {
    return await command.run({ configPath, action: action?.name, args: positionals, values });
  } catch (error) {
    if (error instanceof UsageError) return usageError(error, command.name);
    if (error instanceof ConfigError || error instanceof SchemaBehindError) {
      console.error(error.message);
      return 2;
    }
    console.error(`fastmta ${command.name}: ${(error as Error).message}`);
    return 1;
  }
}

function usageError(error: UsageError, command: string | undefined): number {
  const help = command ? `fastmta ${command} --help` : "fastmta --help";
  console.error(`${error.message}\nRun "${help}" for usage.`);
  return 2;
}

/**
 * Whether the program was called by the name `sendmail`: the `./fastmta` launcher says so with
 * the `sendmail` command; a compiled binary reads its own argv[0] (Linux: /proc/self/cmdline).
 */
function calledAsSendmail(): boolean {
  try {
    const argv0 = Deno.readTextFileSync("/proc/self/cmdline").split("\0")[0];
    return argv0.split("/").pop() === "sendmail";
  } catch {
    return false;
  }
}

if (import.meta.main) {
  Deno.exit(await main(calledAsSendmail() ? ["sendmail", ...Deno.args] : Deno.args));
}
