/**
 * fastmta command line: argument parsing and dispatch only; each subcommand is a module in cli/.
 * Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad configuration.
 */
import { parseArgs } from "node:util";
import { ConfigError, ENV_OVERRIDES } from "./core/config/mod.ts";
import { SHAPING_USAGE } from "./cli/shaping.ts";

const COMMANDS: Record<string, string> = {
  serve: `Usage: fastmta serve [--config FILE]

Runs the mail server: SMTP acceptance, delivery and the admin HTTP console.
Without --config (or FASTMTA_CONFIG) it runs on built-in defaults: SQLite under ./data,
SMTP on 127.0.0.1:2525, admin on http://127.0.0.1:8025/.

Options:
  --config FILE   JSON configuration (the seed's app.json shape, see README)
  -h, --help      Show this help

Environment overrides:
${Object.entries(ENV_OVERRIDES).map(([k, v]) => `  ${k.padEnd(26)} ${v}`).join("\n")}`,
  send: `Usage: fastmta send [--config FILE] --from ADDR --to ADDR [--to ADDR ...] [FILE|-]
       fastmta send [--config FILE] --json [FILE|-]

Queues one message and prints its queue id once the message is durable (committed to disk, or
confirmed by RabbitMQ). Needs no running server: one that runs delivers it within
queue.poll_interval, else the next one to start does. Reads FILE, or standard input when FILE is
"-" or missing.

The message is raw RFC 5322 (header fields, an empty line, the body). Bare LF line ends become
CRLF, so a file saved by an ordinary editor is fine. A Received: header, and a Message-ID: when
the message has none, are added. smtp.max_message_size, smtp.max_recipients and
smtp.max_header_size apply as on SMTP; there is no relay check.
  --from ADDR     Envelope sender ("<>" for the null sender)
  --to ADDR       Envelope recipient; repeat it, or separate addresses with commas
  --json          Read an inject v1 JSON document instead (README "Inject queue"); it holds
                  the envelope ("from", "to") and the message (raw, or subject/text/html)

Exit codes: 0 queued (the id is printed), 1 not queued because of a database or broker failure
(try again), 2 refused: bad arguments, or a message that breaks a limit (nothing is queued).

  printf 'Subject: Hi\n\nHello.\n' | fastmta send --from me@example.com --to you@example.org`,
  migrate: `Usage: fastmta migrate [--config FILE] [--status]

Applies pending database migrations and exits (serve also applies them at start).
  --status        List applied and pending migrations; change nothing`,
  admin: `Usage: fastmta admin add|passwd|remove|list [USER] [--config FILE]

Manages admin console users. add and passwd read the password from standard input:
  echo 'a-long-password' | fastmta admin add alice`,
  queue: `Usage: fastmta queue [--config FILE] [--json] [--message ID]
       fastmta queue release|cancel ID [--config FILE]

Prints recipient counts by state (queued, deferred, delivered, failed), units in flight and
quarantined units (docs/quarantine.md).
  --json          Print counts as JSON
  --message ID    Print one message's recipients, units (failures, quarantine reason) and
                  delivery attempts
  release ID      Make the message's quarantined units due again (failure count reset)
  cancel ID       Stop delivering the message: open recipients fail, no DSN is sent`,
  nodes: `Usage: fastmta nodes [--config FILE] [--json] [--all]

Lists the cluster's live nodes (id, name, heartbeat, queue, units in flight, config version).
  --json          Print as JSON
  --all           Include nodes that are down or stopped`,
  config: `Usage: fastmta config [--config FILE] [--json] list | set KEY VALUE | unset KEY

Cluster-wide overrides of the configuration file, stored in the database and broadcast to every
node. KEY as written in the file ("smtp.max_recipients"); VALUE is JSON or a bare string. Live
settings apply within seconds; others when a node restarts.`,
  user: `Usage: fastmta user <action> [NAME] [--config FILE] [options]

Manages SMTP users (AUTH PLAIN, LOGIN, CRAM-MD5 on the submission listeners).

Actions:
  add NAME        Add a user
  list            List users and their limits (--json for JSON)
  remove NAME     Remove a user
  passwd NAME     Set a new password
  limits NAME     Change a user's limits

Options:
  --password P                    The password (else read from standard input: the first
                                  line, or typed without echo on a terminal)
  --max-recipients N              Recipients per message ("default": smtp.auth.max_recipients)
  --max-messages-per-minute N     Messages per minute
                                  ("default": smtp.auth.max_messages_per_minute)
  --json                          JSON output for list`,
  apikey: `Usage: fastmta apikey add NAME
       fastmta apikey list [--json]
       fastmta apikey remove NAME

Manages the keys of the REST API (POST /api/v1/messages, "Authorization: Bearer KEY").
"add" prints the new key once on standard output; only its SHA-256 is stored, so a lost key
cannot be shown again: remove it and add another. A key may send to any domain.
  --config FILE   JSON configuration
  --json          Print JSON (list)`,
  shaping: SHAPING_USAGE,
  dkim: `Usage: fastmta dkim generate DOMAIN SELECTOR [--algorithm rsa|ed25519] [--bits N]
       fastmta dkim list
       fastmta dkim remove DOMAIN SELECTOR

Manages DKIM signing keys. Mail is signed with every key of its From domain (or the nearest
parent domain that has keys). "generate" prints the DNS TXT record to publish.
  --config FILE        JSON configuration (database, dkim.master_key_file)
  --algorithm ALG      rsa (default, 2048 bits) or ed25519
  --bits N             RSA key size (default 2048)
  --json               Print JSON

Private keys are stored in the database sealed (AES-256-GCM) with a master key read from
FASTMTA_DKIM_MASTER_KEY or dkim.master_key_file (default <data_dir>/dkim_master.key, created
with mode 0600 on first use). Keep that file private and back it up with the database.`,
  suppression: `Usage: fastmta suppression list [--json]
       fastmta suppression remove ADDRESS

Addresses that hard-bounced (the mailbox does not exist) are not tried again for
bounce.suppression_time; mail to them fails at once. "remove" lets mail to ADDRESS go out again.
  --config FILE   JSON configuration
  --json          Print JSON`,
};

const USAGE = `Usage: fastmta <command> [options]

Commands:
  serve     Run the server
  send      Queue a message from a file or standard input
  migrate   Apply database migrations
  queue     Show the queue
  nodes     List the cluster's nodes
  config    Show or change cluster-wide config overrides
  user      Manage SMTP users
  apikey    Manage REST API keys
  shaping   List or change the stored shaping rules (limits, pauses)
  dkim      Manage DKIM keys
  suppression  Show or lift suppressed addresses
  admin     Manage console users

Run "fastmta <command> --help" for a command's options.`;

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (!command || command === "-h" || command === "--help" || command === "help") {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  if (!(command in COMMANDS)) {
    console.error(`Unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  let values;
  let positionals: string[] = [];
  try {
    ({ values, positionals } = parseArgs({
      args: rest,
      options: {
        config: { type: "string" },
        help: { type: "boolean", short: "h" },
        json: { type: "boolean" },
        message: { type: "string" },
        from: { type: "string" },
        to: { type: "string", multiple: true },
        status: { type: "boolean" },
        password: { type: "string" },
        "max-recipients": { type: "string" },
        "max-messages-per-minute": { type: "string" },
        algorithm: { type: "string" },
        bits: { type: "string" },
        all: { type: "boolean" },
      },
      allowPositionals: [
        "admin",
        "apikey",
        "config",
        "dkim",
        "queue",
        "send",
        "shaping",
        "suppression",
        "user",
      ]
        .includes(command),
      strict: true,
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${COMMANDS[command]}`);
    return 2;
  }
  if (values.help) {
    console.log(COMMANDS[command]);
    return 0;
  }
  const configPath = values.config ?? Deno.env.get("FASTMTA_CONFIG") ?? null;
  try {
    switch (command) {
      case "serve": {
        const { serve } = await import("./cli/serve.ts");
        await serve(configPath);
        return 0;
      }
      case "send": {
        const { send } = await import("./cli/send.ts");
        const { UsageError } = await import("./cli/_usage.ts");
        try {
          return await send(configPath, positionals, {
            from: values.from,
            to: values.to,
            json: Boolean(values.json),
          });
        } catch (error) {
          if (!(error instanceof UsageError)) throw error;
          console.error(`${error.message}\n\n${COMMANDS.send}`);
          return 2;
        }
      }
      case "migrate": {
        const { migrate } = await import("./cli/migrate.ts");
        await migrate(configPath, { status: Boolean(values.status) });
        return 0;
      }
      case "admin": {
        const { admin } = await import("./cli/admin.ts");
        return await admin(configPath, positionals);
      }
      case "queue": {
        const { queue } = await import("./cli/queue.ts");
        return await queue(configPath, {
          json: Boolean(values.json),
          message: values.message,
          positionals,
        });
      }
      case "nodes": {
        const { nodes } = await import("./cli/nodes.ts");
        return await nodes(configPath, { json: Boolean(values.json), all: Boolean(values.all) });
      }
      case "config": {
        const { configCommand } = await import("./cli/config.ts");
        return await configCommand(configPath, positionals, { json: Boolean(values.json) });
      }
      case "user": {
        const { user, UsageError } = await import("./cli/user.ts");
        const [action = "", name, ...extra] = positionals;
        if (extra.length > 0) {
          console.error(`Unexpected argument "${extra[0]}"\n\n${COMMANDS.user}`);
          return 2;
        }
        try {
          return await user(configPath, {
            action,
            name,
            password: values.password,
            json: Boolean(values.json),
            maxRecipients: values["max-recipients"],
            maxMessagesPerMinute: values["max-messages-per-minute"],
          });
        } catch (error) {
          if (error instanceof UsageError) {
            console.error(`${error.message}\n\n${COMMANDS.user}`);
            return 2;
          }
          throw error;
        }
      }
      case "apikey": {
        const { apikey, UsageError } = await import("./cli/apikey.ts");
        try {
          return await apikey(configPath, positionals, { json: Boolean(values.json) });
        } catch (error) {
          if (!(error instanceof UsageError)) throw error;
          console.error(`${error.message}\n\n${COMMANDS.apikey}`);
          return 2;
        }
      }
      case "shaping": {
        const { shaping } = await import("./cli/shaping.ts");
        return await shaping(configPath, positionals);
      }
      case "suppression": {
        const { suppression } = await import("./cli/suppression.ts");
        const { UsageError } = await import("./cli/_usage.ts");
        try {
          return await suppression(configPath, positionals, { json: Boolean(values.json) });
        } catch (error) {
          if (!(error instanceof UsageError)) throw error;
          console.error(`${error.message}\n\n${COMMANDS.suppression}`);
          return 2;
        }
      }
      case "dkim": {
        const { dkim, UsageError } = await import("./cli/dkim.ts");
        try {
          return await dkim(configPath, positionals, {
            algorithm: values.algorithm,
            bits: values.bits,
            json: Boolean(values.json),
          });
        } catch (error) {
          if (!(error instanceof UsageError)) throw error;
          console.error(`${error.message}\n\n${COMMANDS.dkim}`);
          return 2;
        }
      }
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 2;
    }
    console.error(`fastmta ${command}: ${(error as Error).message}`);
    return 1;
  }
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
