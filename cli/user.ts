/**
 * `user add|list|remove|passwd|limits`: manages the SMTP users that may AUTH on the
 * submission listeners. Passwords come from `--password` or, safer (not visible in the
 * process list), from standard input: the first line, or typed without echo on a terminal.
 */
import { validateUsername } from "../core/auth/mod.ts";
import { smtpUserService } from "../core/manage/accounts.ts";
import { cliActor, withManageErrors } from "./_manage.ts";
import { defineCommand } from "./_command.ts";
import { withCurrentStore } from "./_database.ts";
import { UsageError } from "./_usage.ts";

/** The `user` command. */
export const userCommand = defineCommand({
  name: "user",
  summary: "Manage SMTP users",
  description: "Manages SMTP users (AUTH PLAIN, LOGIN, CRAM-MD5 on the submission listeners).",
  options: {
    password: {
      type: "string",
      value: "P",
      description: "The password (else read from standard input: the first line, or typed " +
        "without echo on a terminal)",
    },
    "max-recipients": {
      type: "string",
      value: "N",
      description: 'Recipients per message ("default": smtp.auth.max_recipients)',
    },
    "max-messages-per-minute": {
      type: "string",
      value: "N",
      description: 'Messages per minute ("default": smtp.auth.max_messages_per_minute)',
    },
    json: { type: "boolean", description: "Print JSON" },
  },
  subcommands: [
    {
      name: "add",
      args: "NAME",
      summary: "Add a user",
      options: ["password", "max-recipients", "max-messages-per-minute"],
    },
    { name: "list", summary: "List users and their limits", options: ["json"] },
    { name: "remove", args: "NAME", summary: "Remove a user" },
    { name: "passwd", args: "NAME", summary: "Set a new password", options: ["password"] },
    {
      name: "limits",
      args: "NAME",
      summary: "Change a user's limits",
      options: ["max-recipients", "max-messages-per-minute"],
    },
  ],
  database: "current",
  run: ({ configPath, action, args: [name], values }) =>
    user(configPath, {
      action: action!,
      name,
      password: values.password,
      json: values.json,
      maxRecipients: values["max-recipients"],
      maxMessagesPerMinute: values["max-messages-per-minute"],
    }),
});

/** What the parser read for a `user` command. */
export interface UserCommand {
  action: string;
  name?: string;
  password?: string;
  json: boolean;
  maxRecipients?: string;
  maxMessagesPerMinute?: string;
}

async function readPassword(): Promise<string> {
  if (Deno.stdin.isTerminal()) {
    Deno.stderr.writeSync(new TextEncoder().encode("Password: "));
    Deno.stdin.setRaw(true);
    const bytes: number[] = [];
    const buf = new Uint8Array(1);
    try {
      while ((await Deno.stdin.read(buf)) === 1) {
        if (buf[0] === 13 || buf[0] === 10) break;
        if (buf[0] === 3) throw new Error("Cancelled");
        if (buf[0] === 127) bytes.pop();
        else bytes.push(buf[0]);
      }
    } finally {
      Deno.stdin.setRaw(false);
      Deno.stderr.writeSync(new TextEncoder().encode("\n"));
    }
    return new TextDecoder().decode(new Uint8Array(bytes));
  }
  const text = await new Response(Deno.stdin.readable).text();
  return text.split(/\r?\n/)[0];
}

function parseLimit(value: string | undefined, option: string): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === "default") return null;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError(`Invalid ${option} "${value}": expected a positive integer or "default"`);
  }
  return n;
}

function describeLimit(value: number | null, fallback: number): string {
  return value === null ? `${fallback} (default)` : String(value);
}

/** Runs one `user` subcommand; returns the exit code. */
export async function user(configPath: string | null, command: UserCommand): Promise<number> {
  const { action, name } = command;
  if (action !== "list") {
    try {
      validateUsername(name!);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  }
  const maxRecipients = parseLimit(command.maxRecipients, "--max-recipients");
  const maxPerMinute = parseLimit(command.maxMessagesPerMinute, "--max-messages-per-minute");

  return await withCurrentStore(configPath, async (store, config) => {
    const users = smtpUserService(store, config);
    const actor = cliActor();
    switch (action) {
      case "list": {
        const users = await store.listSmtpUsers();
        if (command.json) {
          console.log(JSON.stringify(users.map((u) => ({
            username: u.username,
            maxRecipients: u.maxRecipients,
            maxMessagesPerMinute: u.maxMessagesPerMinute,
            cramMd5: u.cramSecret !== null,
            createdAt: u.createdAt,
            updatedAt: u.updatedAt,
          }))));
        } else if (users.length === 0) {
          console.log("no SMTP users");
        } else {
          for (const u of users) {
            console.log(
              `${u.username}  max_recipients=${
                describeLimit(u.maxRecipients, config.smtp.auth.max_recipients)
              }  max_messages_per_minute=${
                describeLimit(u.maxMessagesPerMinute, config.smtp.auth.max_messages_per_minute)
              }  cram-md5=${u.cramSecret !== null ? "yes" : "no"}  created=${
                new Date(u.createdAt).toISOString()
              }`,
            );
          }
        }
        return 0;
      }
      case "add": {
        const password = command.password ?? await readPassword();
        // Through the management plane: the same checks as the API, and an audit entry.
        const code = await withManageErrors(async () => {
          await users.create({
            username: name,
            password,
            max_recipients: maxRecipients ?? null,
            max_messages_per_minute: maxPerMinute ?? null,
          }, actor);
          return 0;
        });
        if (code === 0) console.log(`added SMTP user "${name}"`);
        return code;
      }
      case "passwd": {
        if (!(await store.getSmtpUser(name!))) {
          console.error(`SMTP user "${name}" does not exist`);
          return 1;
        }
        const password = command.password ?? await readPassword();
        const code = await withManageErrors(async () => {
          await users.update(name!, { password }, actor);
          return 0;
        });
        if (code === 0) console.log(`changed the password of SMTP user "${name}"`);
        return code;
      }
      case "limits": {
        if (!(await store.getSmtpUser(name!))) {
          console.error(`SMTP user "${name}" does not exist`);
          return 1;
        }
        const code = await withManageErrors(async () => {
          await users.update(name!, {
            ...(maxRecipients !== undefined ? { max_recipients: maxRecipients } : {}),
            ...(maxPerMinute !== undefined ? { max_messages_per_minute: maxPerMinute } : {}),
          }, actor);
          return 0;
        });
        if (code === 0) console.log(`changed the limits of SMTP user "${name}"`);
        return code;
      }
      case "remove": {
        if (!(await store.getSmtpUser(name!))) {
          console.error(`SMTP user "${name}" does not exist`);
          return 1;
        }
        await users.remove(name!, actor);
        console.log(`removed SMTP user "${name}"`);
        return 0;
      }
    }
    return 0;
  });
}
