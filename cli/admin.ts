/** `admin add|passwd|remove|list`: manages console users. Passwords are read from stdin. */
import { loadConfig } from "../core/config/mod.ts";
import { AdminAuth } from "../core/auth/admin.ts";
import { openStore } from "../core/store/mod.ts";

async function readPassword(): Promise<string> {
  const text = await new Response(Deno.stdin.readable).text();
  return text.replace(/\r?\n$/, "");
}

/** Runs one admin-user action; returns the exit code. */
export async function admin(configPath: string | null, args: string[]): Promise<number> {
  const [action, username] = args;
  const config = await loadConfig(configPath);
  const store = await openStore(config, "admin");
  try {
    await store.migrate();
    const auth = new AdminAuth(store);
    switch (action) {
      case "list":
        for (const name of await auth.listUsers()) console.log(name);
        return 0;
      case "add":
      case "passwd": {
        if (!username) throw new Error(`Usage: fastmta admin ${action} USER (password on stdin)`);
        const password = await readPassword();
        if (action === "add") await auth.addUser(username, password);
        else if (!(await auth.setPassword(username, password))) {
          console.error(`No console user "${username}"`);
          return 1;
        }
        console.log(action === "add" ? `added ${username}` : `password changed for ${username}`);
        return 0;
      }
      case "remove":
        if (!username) throw new Error("Usage: fastmta admin remove USER");
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
