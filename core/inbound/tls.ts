/**
 * The SMTP listeners' TLS certificate: the configured files (`smtp.tls.cert_file`/`key_file`),
 * or, with none configured, a self-signed pair made at first start in
 * `<data_dir>/tls/` (never smtp-server's built-in demo key, whose private half is public).
 */
import { mkdirSync } from "node:fs";
import { writeFileDurably } from "../durable_file.ts";
import { dirname } from "node:path";
import type { Config } from "../config/mod.ts";
import { makeSelfSignedCert } from "./self_signed.ts";

/** PEM certificate chain and private key. */
export interface TlsPair {
  cert: string;
  key: string;
}

/**
 * Makes sure the certificate files exist: generates the self-signed pair if it is the one
 * configured and missing. Run once by the main thread before the SMTP workers start.
 */
export async function ensureTlsFiles(config: Config, log: (line: string) => void): Promise<void> {
  const files = config.smtp.tlsFiles;
  if (!files.selfSigned) {
    await loadTls(config); // fail at start, with the file named, rather than per connection
    return;
  }
  await ensureSelfSigned(
    files,
    config.smtp.hostname,
    config.smtp.listeners.map((l) => l.host),
    log,
  );
  log(
    `WARNING: SMTP TLS uses a self-signed certificate (${files.cert}); clients cannot verify ` +
      `it. Set smtp.tls.cert_file and smtp.tls.key_file for production`,
  );
}

/** Makes the self-signed pair at `files` (key 0600) for `hostname` and `ips`, unless it exists. */
export async function ensureSelfSigned(
  files: { cert: string; key: string },
  hostname: string,
  ips: string[],
  log: (line: string) => void,
): Promise<void> {
  try {
    await Deno.stat(files.cert);
    await Deno.stat(files.key);
    return;
  } catch {
    // missing: made below
  }
  const pair = await makeSelfSignedCert(hostname, { ips });
  mkdirSync(dirname(files.key), { recursive: true, mode: 0o700 });
  writeFileDurably(files.key, pair.key, { mode: 0o600 });
  writeFileDurably(files.cert, pair.cert, { mode: 0o644 });
  log(`generated a self-signed TLS certificate for "${hostname}" in ${files.cert}`);
}

/** Reads the certificate and key; throws naming the file that is missing or unreadable. */
export function loadTls(config: Config): Promise<TlsPair> {
  return loadPemPair(config.smtp.tlsFiles);
}

/** Reads a PEM certificate and key; throws naming the file that is missing or unusable. */
export async function loadPemPair(files: { cert: string; key: string }): Promise<TlsPair> {
  const { cert, key } = files;
  const read = async (path: string, what: string) => {
    try {
      return await Deno.readTextFile(path);
    } catch (error) {
      throw new Error(`Cannot read TLS ${what} "${path}": ${(error as Error).message}`);
    }
  };
  const pair = { cert: await read(cert, "certificate"), key: await read(key, "key") };
  if (!pair.cert.includes("-----BEGIN CERTIFICATE-----")) {
    throw new Error(`Cannot use TLS certificate "${cert}": no PEM certificate in it`);
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pair.key)) {
    throw new Error(`Cannot use TLS key "${key}": no PEM private key in it`);
  }
  return pair;
}
