/**
 * Self-signed certificates for TLS tests, made with the `openssl` CLI.
 *
 * @module
 */

/** A PEM private key and certificate. */
export interface PemKeyPair {
  /** PEM private key (PKCS#8). */
  key: string;
  /** PEM certificate. */
  cert: string;
}

/** Options for {@link generateSelfSignedCert}. */
export interface SelfSignedCertOptions {
  /** Subject CN (default "localhost"). */
  commonName?: string;
  /** DNS names for subjectAltName (default [commonName]). */
  dnsNames?: string[];
  /** IP addresses for subjectAltName (default ["127.0.0.1"]). */
  ipAddresses?: string[];
  /** Validity in days (default 2). */
  days?: number;
}

/**
 * Generates a throw-away self-signed P-256 certificate with `openssl req
 * -x509`. Rejects with openssl's stderr if it fails.
 */
export async function generateSelfSignedCert(
  opts: SelfSignedCertOptions = {},
): Promise<PemKeyPair> {
  const cn = opts.commonName ?? "localhost";
  const san = [
    ...(opts.dnsNames ?? [cn]).map((d) => `DNS:${d}`),
    ...(opts.ipAddresses ?? ["127.0.0.1"]).map((ip) => `IP:${ip}`),
  ].join(",");
  const dir = await Deno.makeTempDir({ prefix: "fastmta-cert-" });
  try {
    const keyPath = `${dir}/key.pem`;
    const certPath = `${dir}/cert.pem`;
    const out = await new Deno.Command("openssl", {
      args: [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        keyPath,
        "-out",
        certPath,
        "-days",
        String(opts.days ?? 2),
        "-subj",
        `/CN=${cn}`,
        "-addext",
        `subjectAltName=${san}`,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`openssl failed (${out.code}): ${new TextDecoder().decode(out.stderr)}`);
    }
    return {
      key: await Deno.readTextFile(keyPath),
      cert: await Deno.readTextFile(certPath),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The base64 body of the first PEM certificate in `pem` (undefined when none). */
export const pemBody = (pem: string): string | undefined =>
  /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(pem)?.[1]
    .replace(/\s/g, "");

/** The certificate a STARTTLS client (openssl s_client) is served on `port` (null when none). */
export async function servedCertificate(port: number, host = "127.0.0.1"): Promise<string | null> {
  const out = await new Deno.Command("openssl", {
    args: ["s_client", "-starttls", "smtp", "-connect", `${host}:${port}`],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  return pemBody(new TextDecoder().decode(out.stdout)) ?? null;
}
