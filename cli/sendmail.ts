/**
 * `sendmail`: the classic sendmail command line over `fastmta send`, so PHP's mail(), cron,
 * mailx and git send-email work unchanged. Runs when the program is called by the name
 * `sendmail` (a symlink to the `./fastmta` launcher or to the compiled binary), or as
 * `fastmta sendmail ARGS`. Its arguments follow sendmail, not fastmta: `-t`, `-f ADDR`/`-fADDR`,
 * `-F NAME`, `-i`/`-oi`, recipients as arguments, and exit codes from sysexits.h.
 *
 * Talks to: cli/send.ts (the same store, queue and accept path as `fastmta send`).
 */
import { ConfigError } from "../core/config/mod.ts";
import { defineCommand } from "./_command.ts";
import { SchemaBehindError } from "./_database.ts";
import { send, type SendOptions } from "./send.ts";
import { UsageError } from "./_usage.ts";

/** sysexits.h codes sendmail callers understand. */
export const EX = {
  OK: 0,
  USAGE: 64,
  DATAERR: 65,
  SOFTWARE: 70,
  TEMPFAIL: 75,
  CONFIG: 78,
} as const;

/** Flags cron, PHP, mailx and git pass that mean nothing here (delivery mode, error mode...). */
const IGNORED = new Set([
  "-odi",
  "-odb",
  "-odq",
  "-odf",
  "-odd",
  "-oem",
  "-oee",
  "-oep",
  "-oeq",
  "-oew",
  "-om",
  "-oo",
  "-bm",
  "-U",
  "-v",
  "-Am",
  "-Ac",
]);
/** Flags with a value that are accepted and not acted on (DSN options, body type, label). */
const IGNORED_WITH_VALUE = new Set(["N", "R", "V", "B", "L", "O"]);

/** The `sendmail` entry in the registry: for `--help` and docs/cli.md (main.ts runs it). */
export const sendmailCommand = defineCommand({
  name: "sendmail",
  summary: "The sendmail command line (also: call the program by the name sendmail)",
  args: "[FLAGS] [RECIPIENT...]",
  description:
    `Reads one message from standard input and queues it as "fastmta send" does. Called by the
name sendmail (ln -s /path/to/fastmta /usr/sbin/sendmail) it takes sendmail's flags:
  -t          also send to the To, Cc and Bcc addresses of the header; Bcc is removed
  -f ADDR     envelope sender (also -fADDR, -r ADDR); default: $LOGNAME@smtp.hostname
  -F NAME     full name for the From field added when the message has none
  -i, -oi     a line with a single "." does not end the message (without it, it does)
  -C FILE     fastmta's JSON configuration (default: $FASTMTA_CONFIG, else built-in defaults)
  --          what follows are recipients
Accepted and ignored: -odi -odb -odq -oem -oep -oeq -oew -om -oo -bm -U -v -Am -Ac, and -N, -R,
-V, -B, -L, -O with their value. Any other flag is refused (exit 64).`,
  options: {},
  database: "current-or-new",
  epilog:
    `Exit codes (sysexits.h): 0 queued, 64 bad usage, 65 the message is refused (too large, a bad
address), 75 a database or broker failure (try again), 78 bad configuration.

Example:
  php -d sendmail_path="/usr/local/bin/sendmail -t -i" -r 'mail("you@example.org", "Hi", "Hello");'`,
  run: () => Promise.resolve(EX.USAGE),
});

/** What a sendmail command line asks for. */
export interface SendmailArgs {
  options: SendOptions;
  recipients: string[];
  /** `-C FILE`: sendmail's alternate configuration file, here fastmta's JSON config. */
  configPath?: string;
}

/** Parses sendmail's flags (UsageError names the bad one). */
export function parseSendmailArgs(argv: string[]): SendmailArgs {
  const options: SendOptions = { json: false, dotEnds: true, quiet: true };
  const recipients: string[] = [];
  let configPath: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      recipients.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      recipients.push(arg);
      continue;
    }
    const valueOf = (flag: string): string => {
      if (arg.length > 2) return arg.slice(2);
      const next = argv[++i];
      if (next === undefined) throw new UsageError(`Flag "-${flag}" needs a value`);
      return next;
    };
    const flag = arg[1];
    if (arg === "-t") options.headerRecipients = true;
    else if (arg === "-i" || arg === "-oi") options.dotEnds = false;
    else if (IGNORED.has(arg)) continue;
    else if (flag === "f" || flag === "r") {
      if (options.from !== undefined) throw new UsageError("The sender (-f/-r) is given twice");
      options.from = valueOf(flag);
    } else if (flag === "F") options.fullName = valueOf(flag);
    else if (flag === "C") configPath = valueOf(flag);
    else if (IGNORED_WITH_VALUE.has(flag)) valueOf(flag);
    else throw new UsageError(`Unknown flag "${arg}" (fastmta sendmail --help lists the flags)`);
  }
  if (recipients.length > 0) options.to = recipients;
  return { options, recipients, ...(configPath ? { configPath } : {}) };
}

/** Runs a sendmail command line; returns a sysexits.h code. */
export async function sendmail(argv: string[], configPath: string | null): Promise<number> {
  let parsed: SendmailArgs;
  try {
    parsed = parseSendmailArgs(argv);
    if (parsed.recipients.length === 0 && !parsed.options.headerRecipients) {
      throw new UsageError("No recipients: give them as arguments, or -t to read the header");
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`sendmail: ${error.message}`);
    return EX.USAGE;
  }
  try {
    const code = await send(parsed.configPath ?? configPath, [], parsed.options);
    return code === 0 ? EX.OK : code === 2 ? EX.DATAERR : EX.TEMPFAIL;
  } catch (error) {
    console.error(`sendmail: ${(error as Error).message}`);
    if (error instanceof UsageError) return EX.USAGE;
    if (error instanceof ConfigError || error instanceof SchemaBehindError) return EX.CONFIG;
    return EX.TEMPFAIL;
  }
}
