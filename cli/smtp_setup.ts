/**
 * What the main thread does for the SMTP workers before they start: makes sure the TLS
 * certificate exists (generating the self-signed one once, not racing in N workers), creates
 * the CRAM-MD5 sealing key if needed, and allocates the shared counters.
 *
 * Listening addresses are not probed here: a probe that binds and closes would accept
 * connections for a moment and then refuse them. With SO_REUSEPORT a program that holds the
 * port without it (another MTA) still makes the workers fail with EADDRINUSE; only a second
 * fastmta of the same user (Linux lets only the same UID share) would share the port.
 */
import type { Config } from "../core/config/mod.ts";
import { loadSecretKey } from "../core/auth/mod.ts";
import { ensureTlsFiles } from "../core/inbound/tls.ts";
import { createSharedLimits } from "../core/inbound/shared_limits.ts";
import type { InitExtras } from "./supervisor.ts";

/** Prepares TLS, the auth key and the shared memory; throws with a clear message if it cannot. */
export async function prepareSmtp(
  config: Config,
  log: (line: string) => void,
): Promise<InitExtras> {
  await ensureTlsFiles(config, log);
  if (config.smtp.auth.mechanisms.includes("CRAM-MD5")) {
    const { created } = await loadSecretKey(config.smtp.authKeyFile, { create: true });
    if (created) log(`created the CRAM-MD5 sealing key ${config.smtp.authKeyFile}`);
  }
  return { smtpLimits: createSharedLimits(config.smtp.workers) };
}
