/** `admin add|passwd|remove|list`: manages console users. Passwords are read from stdin. */
import { ConsoleUserService } from "../core/manage/accounts.ts";
import { NotFoundError, type Role, ROLES, ValidationError } from "../core/manage/types.ts";
import { cliActor } from "./_manage.ts";
import { defineCommand } from "./_command.ts";
import { withCurrentStore } from "./_database.ts";

/** The `admin` command. */
export const adminCommand = defineCommand({
  name: "admin",
  summary: "Manage console users",
  description: `Manages admin console users. add and passwd read the password from standard input:
  echo 'a-long-password' | fastmta admin add alice`,
  options: {
    role: {
      type: "choice",
      value: "ROLE",
      choices: ROLES,
      default: "admin",
      description: "What the new user may do: admin, operator, viewer or sender",
    },
  },
  subcommands: [
    {
      name: "add",
      args: "USER",
      summary: "Add a console user (password on standard input)",
      options: ["role"],
    },
    { name: "passwd", args: "USER", summary: "Set a new password (on standard input)" },
    { name: "remove", args: "USER", summary: "Remove a console user" },
    { name: "list", summary: "List console users with their roles" },
  ],
  database: "current",
  run: ({ configPath, action, args, values }) => admin(configPath, [action!, ...args], values),
});

async function readPassword(): Promise<string> {
  const text = await new Response(Deno.stdin.readable).text();
  return text.replace(/\r?\n$/, "");
}

/** Runs one admin-user action; returns the exit code. */
export async function admin(
  configPath: string | null,
  args: string[],
  options: { role?: Role } = {},
): Promise<number> {
  const [action, username] = args;
  return await withCurrentStore(configPath, async (store) => {
    // Through the management plane: the same checks as every face, and an audit entry.
    const users = new ConsoleUserService(store);
    const actor = cliActor();
    switch (action) {
      case "list":
        for (const user of await users.list()) {
          console.log(`${user.username}  role=${user.role}`);
        }
        return 0;
      case "add":
      case "passwd": {
        const password = await readPassword();
        try {
          if (action === "add") await users.add(username, password, options.role ?? "admin", actor);
          else await users.setPassword(username, password, actor);
        } catch (error) {
          if (error instanceof NotFoundError) {
            console.error(`No console user "${username}"`);
            return 1;
          }
          if (error instanceof ValidationError) {
            console.error(error.message);
            return 2;
          }
          throw error;
        }
        console.log(action === "add" ? `added ${username}` : `password changed for ${username}`);
        return 0;
      }
      case "remove":
        try {
          await users.remove(username, actor);
        } catch (error) {
          if (!(error instanceof NotFoundError)) throw error;
          console.error(`No console user "${username}"`);
          return 1;
        }
        console.log(`removed ${username}`);
        return 0;
      default:
        console.error(`Unknown admin action "${action ?? ""}": use add, passwd, remove or list`);
        return 2;
    }
  });
}
