/**
 * The managed TLS certificate (kind `tls_certificate`): a PEM certificate chain and its private
 * key, uploaded once and served by every node whose listeners name it (`tls_certificate` on a
 * listener object). The key is a secret (secrets.ts): stored, never shown, never logged.
 * Checked on input with node:crypto, each problem naming its field: the chain parses, the
 * key parses and belongs to the first certificate, and that certificate has not expired.
 */
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { z } from "zod";

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
// Long enough for a chain of a few RSA-4096 certificates; a bound, so a paste cannot be huge.
const MAX_PEM = 64 * 1024;

/** The certificates of a PEM chain, leaf first; throws when there is none or one is bad. */
export function parseChain(pem: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new Error("Expected a PEM certificate (BEGIN CERTIFICATE)");
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new Error(
        `Certificate ${i + 1} of the chain does not parse: ${(error as Error).message}`,
      );
    }
  });
}

function parseKey(pem: string): KeyObject {
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    throw new Error("Expected a PEM private key (BEGIN PRIVATE KEY)");
  }
  try {
    return createPrivateKey(pem);
  } catch {
    // The library's message is kept out: it is about the secret's content.
    throw new Error("The private key does not parse (encrypted keys are not supported)");
  }
}

const pem = (what: string) =>
  z.string({ error: `Expected the PEM ${what} as text` }).min(1).max(MAX_PEM);

/** A certificate object's body. */
export const tlsCertificateSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "Expected 1-64 letters, digits, _ . or -"),
  certificate: pem("certificate chain").meta({
    description: "PEM certificate chain, the server's certificate first.",
  }),
  private_key: pem("private key").meta({
    description: "PEM private key (PKCS#8 or PKCS#1, unencrypted). A secret: shown as ********.",
  }),
}).strict().superRefine((body, ctx) => {
  let chain: X509Certificate[];
  try {
    chain = parseChain(body.certificate);
  } catch (error) {
    ctx.addIssue({ code: "custom", path: ["certificate"], message: (error as Error).message });
    return;
  }
  const leaf = chain[0];
  if (Date.parse(leaf.validTo) <= Date.now()) {
    ctx.addIssue({
      code: "custom",
      path: ["certificate"],
      message: `The certificate expired on ${new Date(leaf.validTo).toISOString()}`,
    });
  }
  let key: KeyObject;
  try {
    key = parseKey(body.private_key);
  } catch (error) {
    ctx.addIssue({ code: "custom", path: ["private_key"], message: (error as Error).message });
    return;
  }
  if (!leaf.checkPrivateKey(key)) {
    ctx.addIssue({
      code: "custom",
      path: ["private_key"],
      message: "The private key does not belong to the (first) certificate",
    });
  }
}).meta({
  description: "A TLS certificate chain and private key that listeners name by " +
    "`tls_certificate`; every node writes it to its data folder and rebinds those listeners.",
});
export type TlsCertificateBody = z.output<typeof tlsCertificateSchema>;

/** What the console and CLI show of a certificate (never the key). */
export interface CertificateSummary {
  subject: string;
  issuer: string;
  san: string[];
  validTo: number;
  chainLength: number;
}

/** The leaf's subject, names and expiry; null when the chain does not parse. */
export function summarize(certificate: string): CertificateSummary | null {
  try {
    const chain = parseChain(certificate);
    const leaf = chain[0];
    return {
      subject: leaf.subject.replaceAll("\n", ", "),
      issuer: leaf.issuer.replaceAll("\n", ", "),
      san: (leaf.subjectAltName ?? "").split(/,\s*/).filter(Boolean)
        .map((s) => s.replace(/^(DNS|IP Address):/, "")),
      validTo: Date.parse(leaf.validTo),
      chainLength: chain.length,
    };
  } catch {
    return null;
  }
}
