/**
 * What the main thread does for the SMTP workers before they start: makes sure the TLS
 * certificate exists (generating the self-signed one once, not racing in N workers), creates
 * the CRAM-MD5 sealing key if needed, checks that no other process holds a listening address
 * (with SO_REUSEPORT a second process would silently share it), and allocates the shared
 * counters.
 */
import net from "node:net";
import type { Config } from "../core/config/mod.ts";
import { loadSecretKey } from "../core/auth/mod.ts";
import { ensureTlsFiles } from "../core/inbound/tls.ts";
import { createSharedLimits } from "../core/inbound/shared_limits.ts";
import type { WorkerShared } from "../workers/protocol.ts";

function probe(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once(
      "error",
      (error) =>
        reject(new Error(`Cannot listen on "${host}:${port}": ${(error as Error).message}`)),
    );
    server.listen({ host, port }, () => server.close(() => resolve()));
  });
}

/** Prepares TLS, the auth key and the shared memory; throws with a clear message if it cannot. */
export async function prepareSmtp(
  config: Config,
  log: (line: string) => void,
): Promise<WorkerShared> {
  await ensureTlsFiles(config, log);
  if (config.smtp.auth.mechanisms.includes("CRAM-MD5")) {
    const { created } = await loadSecretKey(config.smtp.authKeyFile, { create: true });
    if (created) log(`created the CRAM-MD5 sealing key ${config.smtp.authKeyFile}`);
  }
  for (const listener of config.smtp.listeners) await probe(listener.host, listener.port);
  return { smtpLimits: createSharedLimits(config.smtp.workers) };
}
