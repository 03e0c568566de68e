/**
 * What `serve` sets up for being watched: the log (stdout, level and format from the config,
 * the config's secrets registered for redaction), the main thread's own metrics, and the first
 * console password, which goes to a file only this user can read, never to the log.
 */
import type { Config } from "../core/config/mod.ts";
import { configureLog, log } from "../core/log.ts";
import { collectProcessMetrics, sampleThread } from "../core/metrics/mod.ts";
import { registerConfigSecrets } from "./log_secrets.ts";

/** Once the configuration is loaded. */
export function startObservability(config: Config): void {
  configureLog({ level: config.log.level, format: config.log.format });
  registerConfigSecrets(config);
  sampleThread("main");
  collectProcessMetrics();
}

/** Writes the bootstrap password to `<data_dir>/initial-admin-password` and says where. */
export async function announceInitialPassword(config: Config, password: string): Promise<void> {
  const file = `${config.dataDir}/initial-admin-password`;
  await Deno.writeTextFile(file, password + "\n", { mode: 0o600 });
  await Deno.chmod(file, 0o600).catch(() => {}); // the mode applies only to a new file
  const passwd = `fastmta admin passwd admin${config.source ? ` --config ${config.source}` : ""}`;
  log(
    "admin",
    `created console user "admin"; its password is in ${file} (read it, then change it with "${passwd}" and delete the file)`,
  );
}
