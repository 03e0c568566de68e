/**
 * A node's copy of the managed TLS certificates (kind tls_certificate): each one written to
 * `<data_dir>/tls/managed/` durably (core/durable_file.ts; the key 0600) under a name that
 * holds a hash of its content. A new upload under the same name is so a new path, which the
 * SMTP side sees as a changed listener certificate and rebinds live (core/inbound/smtp.ts);
 * files no stored certificate names any more (replaced or removed) are deleted, so a removed
 * key does not stay on disk.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { writeFileDurably } from "../durable_file.ts";
import type { ConfigObjectRecord } from "../store/mod.ts";
import type { TlsCertificateBody } from "./tls_certificate_kind.ts";

/** A certificate's files on this node. */
export interface CertificateFiles {
  cert: string;
  key: string;
}

/** Where `body` is written under `dataDir`. */
export function certificateFiles(dataDir: string, body: TlsCertificateBody): CertificateFiles {
  const hash = createHash("sha256").update(body.certificate).update("\0")
    .update(body.private_key).digest("hex").slice(0, 16);
  const base = join(dataDir, "tls", "managed", `${body.name}.${hash}`);
  return { cert: `${base}.crt`, key: `${base}.key` };
}

function exists(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Writes every stored certificate that is not on disk yet and deletes the stale ones; returns
 * the files by certificate name. A certificate that cannot be written is logged and left out
 * (the listeners naming it are then not bound, see live_state.ts), the others still apply.
 */
export function writeManagedCertificates(
  objects: ConfigObjectRecord[],
  dataDir: string,
  log: (line: string) => void,
): Map<string, CertificateFiles> {
  const dir = join(dataDir, "tls", "managed");
  const files = new Map<string, CertificateFiles>();
  const bodies = objects.filter((o) => o.kind === "tls_certificate").flatMap((o) => {
    try {
      return [JSON.parse(o.body) as TlsCertificateBody];
    } catch {
      return []; // never written by the service
    }
  });
  if (bodies.length > 0) mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const body of bodies) {
    const paths = certificateFiles(dataDir, body);
    try {
      // The key first: a certificate file on disk means its key is there too.
      if (!exists(paths.key)) writeFileDurably(paths.key, body.private_key, { mode: 0o600 });
      if (!exists(paths.cert)) writeFileDurably(paths.cert, body.certificate, { mode: 0o644 });
      files.set(body.name, paths);
    } catch (error) {
      log(`cannot write TLS certificate "${body.name}" to ${dir}: ${(error as Error).message}`);
    }
  }
  removeStale(dir, files, log);
  return files;
}

function removeStale(dir: string, keep: Map<string, CertificateFiles>, log: (l: string) => void) {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return; // no folder: nothing was ever written
  }
  const wanted = new Set([...keep.values()].flatMap((f) => [f.cert, f.key]));
  for (const entry of entries) {
    const path = join(dir, entry);
    if (wanted.has(path) || entry.endsWith(".tmp")) continue;
    try {
      unlinkSync(path);
    } catch (error) {
      log(`cannot remove the stale TLS file ${path}: ${(error as Error).message}`);
    }
  }
}
