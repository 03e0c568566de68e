/**
 * The SMTP listeners' TLS certificates as the console shows them: for each listener (the
 * configuration file's and the managed listener objects), the certificate file it serves
 * (its own `certificate`, else the node's `smtp.tls` pair) with the first certificate's
 * subject, subject alternative names and expiry, read with node:crypto's X509Certificate.
 * Files are read on the node answering: a listener object of another node names a file there,
 * which this node may not have (then the error says so). A listener's certificate path is set
 * on its object (the configuration pages' listener form); the SMTP side rebinds it live. A
 * listener naming an uploaded certificate (`tls_certificate`, or `smtp.tls.certificate` for
 * those without their own) is described from the stored chain, the same on every node.
 */
import { X509Certificate } from "node:crypto";
import { resolve } from "node:path";
import type { Config } from "../config/mod.ts";
import type { ListenerBody } from "./kinds.ts";
import { summarize } from "./tls_certificate_kind.ts";

/** One listener's certificate, or why it cannot be shown. */
export interface ListenerCertificate {
  /** "ip:port". */
  listener: string;
  /** Where the listener is defined: the file, or a managed object (and for which node). */
  source: "file" | "object";
  node?: string;
  certFile: string;
  /** The managed certificate (kind tls_certificate) it names, instead of a file. */
  managed?: string;
  /** The node's `smtp.tls` pair (self-signed when made at first start). */
  isDefault: boolean;
  subject?: string;
  issuer?: string;
  /** DNS names and IP addresses the certificate is for. */
  san?: string[];
  validTo?: number;
  error?: string;
}

/** The certificate at `file` as shown, or the reason it cannot be read. */
export async function describeCertificate(
  file: string,
): Promise<Pick<ListenerCertificate, "subject" | "issuer" | "san" | "validTo" | "error">> {
  let pem: string;
  try {
    pem = await Deno.readTextFile(file);
  } catch (error) {
    return { error: `Cannot read "${file}" on this node: ${(error as Error).message}` };
  }
  const first = pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/);
  if (!first) return { error: `No PEM certificate in "${file}"` };
  try {
    const cert = new X509Certificate(first[0]);
    return {
      subject: cert.subject.replaceAll("\n", ", "),
      issuer: cert.issuer.replaceAll("\n", ", "),
      san: (cert.subjectAltName ?? "").split(/,\s*/).filter(Boolean)
        .map((s) => s.replace(/^(DNS|IP Address):/, "")),
      validTo: Date.parse(cert.validTo),
    };
  } catch (error) {
    return { error: `Cannot parse the certificate in "${file}": ${(error as Error).message}` };
  }
}

/** A managed certificate's PEM text as shown (from the stored object, not a file). */
function describePem(
  name: string,
  pem: string | undefined,
): ReturnType<typeof describeCertificate> {
  if (pem === undefined) {
    return Promise.resolve({ error: `No TLS certificate "${name}" is stored: upload it below` });
  }
  const summary = summarize(pem);
  return Promise.resolve(
    summary ? { ...summary } : { error: `The stored certificate "${name}" does not parse` },
  );
}

/** Every listener's certificate: the file's listeners first, then the managed ones. */
export async function listenerCertificates(
  config: Pick<Config, "smtp">,
  objects: ListenerBody[],
  /** The stored certificates' PEM chains by name. */
  stored: ReadonlyMap<string, string> = new Map(),
): Promise<ListenerCertificate[]> {
  const named = config.smtp.tls.certificate;
  // smtp.tls.certificate, once stored, is what a listener without its own serves.
  const fallback = named && stored.has(named)
    ? `managed certificate "${named}"`
    : config.smtp.tlsFiles.cert;
  const fallbackManaged = named && stored.has(named) ? { managed: named } : {};
  // An object for the same address wins (as it does on the node), so no listener shows twice.
  const managed = new Set(objects.map((l) => `${l.ip}:${l.port}`));
  const rows: Omit<ListenerCertificate, "subject" | "issuer" | "san" | "validTo" | "error">[] = [
    ...config.smtp.listeners.filter((l) => !managed.has(`${l.host}:${l.port}`)).map((l) => ({
      listener: `${l.host}:${l.port}`,
      source: "file" as const,
      certFile: l.certificate?.cert ?? fallback,
      ...(l.certificate ? {} : fallbackManaged),
      isDefault: !l.certificate,
    })),
    ...objects.map((l) => ({
      listener: `${l.ip}:${l.port}`,
      source: "object" as const,
      node: l.node,
      certFile: l.tls_certificate
        ? `managed certificate "${l.tls_certificate}"`
        : l.certificate
        ? resolve(l.certificate.cert_file)
        : fallback,
      ...(l.tls_certificate
        ? { managed: l.tls_certificate }
        : l.certificate
        ? {}
        : fallbackManaged),
      isDefault: !l.certificate && !l.tls_certificate,
    })),
  ];
  // One read per file, however many listeners share it.
  const seen = new Map<string, ReturnType<typeof describeCertificate>>();
  return await Promise.all(rows.map(async (row) => {
    let described = seen.get(row.certFile);
    if (!described) {
      described = row.managed
        ? describePem(row.managed, stored.get(row.managed))
        : describeCertificate(row.certFile);
      seen.set(row.certFile, described);
    }
    return { ...row, ...(await described) };
  }));
}
