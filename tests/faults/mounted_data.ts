/**
 * What the storage fault tests share: a node whose data folder (SQLite and all) lives on a file
 * system the test mounted itself, and a steady SMTP load into it that the test stops once the
 * fault is over. They need root (mount, losetup), so they ask {@link runsAsRoot} first.
 */
import { E2E_DOMAIN, type E2eFixture } from "../helpers/e2e_fixture.ts";
import type { ServerProcess } from "../helpers/server_process.ts";
import { startSmtpLoad } from "../helpers/smtp_load.ts";
import { waitUntil } from "../helpers/wait.ts";

type ServerConfig = ReturnType<E2eFixture["nodeConfig"]>;
type SmtpLoad = ReturnType<typeof startSmtpLoad>;

/** Runs `cmd` and returns its standard output; an exit code outside `okCodes` throws. */
export function run(cmd: string, args: string[], okCodes = [0]): string {
  const out = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  if (!okCodes.includes(out.code)) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout).trim();
}

/** Whether this process is root and each of `tools` is on the PATH. */
export function runsAsRoot(tools: string[] = []): boolean {
  try {
    if (Deno.uid() !== 0) return false;
    return ["mount", ...tools].every((tool) =>
      new Deno.Command("sh", { args: ["-c", `command -v ${tool}`], stdout: "null" })
        .outputSync().success
    );
  } catch {
    return false;
  }
}

/** A node configured to keep its data folder and SQLite database under the mount `mnt`. */
export async function nodeOnMount(
  e2e: E2eFixture,
  mnt: string,
): Promise<{ config: ServerConfig; configPath: string }> {
  const config = e2e.nodeConfig();
  config.data_dir = `${mnt}/data`;
  config.database = { driver: "sqlite3", connection: `${mnt}/data/fastmta.db` };
  return { config, configPath: await e2e.writeConfig(config) };
}

/**
 * SMTP load that goes on until stopped (4 connections, subjects starting with `prefix`), resolved
 * once the first 50 messages are in: the fault then strikes a node that is busy.
 */
export async function steadyLoad(server: ServerProcess, prefix: string): Promise<SmtpLoad> {
  const load = startSmtpLoad({
    servers: [server.smtpAddress],
    count: 1_000_000,
    connections: 4,
    to: `r@${E2E_DOMAIN}`,
    prefix,
  });
  await waitUntil(() => load.acceptedCount >= 50, { timeoutMs: 60_000, message: "load" });
  return load;
}

/** Stops `load` if it was started, ignoring how it ended (for a test's `finally`). */
export async function stopLoad(load: SmtpLoad | undefined): Promise<void> {
  load?.stop();
  await load?.result.catch(() => {});
}
