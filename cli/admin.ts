/** `admin add|passwd|remove|list`: manages console users. Passwords are read from stdin. */
import { loadConfig } from "../core/config/mod.ts";
import { AdminAuth } from "../core/auth/admin.ts";
import { type Role, ROLES } from "../core/manage/types.ts";
import { defineCommand } from "./_command.ts";
import { openCurrentStore } from "./_database.ts";

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
  const config = await loadConfig(configPath);
  const store = await openCurrentStore(config, "admin");
  try {
    const auth = new AdminAuth(store);
    switch (action) {
      case "list":
        for (const user of await store.listAdminUserRoles()) {
          console.log(`${user.username}  role=${user.role}`);
        }
        return 0;
      case "add":
      case "passwd": {
        const password = await readPassword();
        if (action === "add") await auth.addUser(username, password, options.role ?? "admin");
        else if (!(await auth.setPassword(username, password))) {
          console.error(`No console user "${username}"`);
          return 1;
        }
        console.log(action === "add" ? `added ${username}` : `password changed for ${username}`);
        return 0;
      }
      case "remove":
        if (!(await auth.removeUser(username))) {
          console.error(`No console user "${username}"`);
          return 1;
        }
        console.log(`removed ${username}`);
        return 0;
      default:
        console.error(`Unknown admin action "${action ?? ""}": use add, passwd, remove or list`);
        return 2;
    }
  } finally {
    await store.close();
  }
}
