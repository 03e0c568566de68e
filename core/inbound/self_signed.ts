/**
 * A self-signed TLS certificate made in-process: an ECDSA P-256 key from WebCrypto and a
 * minimal X.509 v3 certificate written with a small DER encoder.
 *
 * Why not `openssl req` or an npm package: a compiled fastmta binary must not depend on an
 * `openssl` program being installed, and the npm options are heavy (node-forge's RSA key
 * generation in pure JS takes seconds) for ~100 lines of ASN.1. The result is what
 * `openssl req -x509 -newkey ec` makes: CN and subjectAltName set to the host name.
 */

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = concat(content);
  const n = body.length;
  let length: number[];
  if (n < 0x80) length = [n];
  else if (n < 0x100) length = [0x81, n];
  else if (n < 0x10000) length = [0x82, n >> 8, n & 0xff];
  else length = [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return concat([new Uint8Array([tag, ...length]), body]);
}

const seq = (...c: Uint8Array[]) => tlv(0x30, ...c);
const set = (...c: Uint8Array[]) => tlv(0x31, ...c);
const utf8 = (s: string) => tlv(0x0c, new TextEncoder().encode(s));
const octets = (b: Uint8Array) => tlv(0x04, b);
const explicit = (n: number, ...c: Uint8Array[]) => tlv(0xa0 + n, ...c);

/** A DER INTEGER from unsigned big-endian bytes. */
function integer(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  let v = bytes.subarray(i);
  if (v[0] & 0x80) v = concat([new Uint8Array([0]), v]);
  return tlv(0x02, v);
}

function oid(dotted: string): Uint8Array {
  const parts = dotted.split(".").map(Number);
  const out = [parts[0] * 40 + parts[1]];
  for (const part of parts.slice(2)) {
    const stack = [part & 0x7f];
    for (let v = part >> 7; v > 0; v >>= 7) stack.unshift((v & 0x7f) | 0x80);
    out.push(...stack);
  }
  return tlv(0x06, new Uint8Array(out));
}

function time(date: Date): Uint8Array {
  const iso = date.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z"; // YYYYMMDDHHMMSSZ
  // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime after.
  return date.getUTCFullYear() < 2050
    ? tlv(0x17, new TextEncoder().encode(iso.slice(2)))
    : tlv(0x18, new TextEncoder().encode(iso));
}

function ipBytes(ip: string): Uint8Array | null {
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
  return v4 ? new Uint8Array(v4.slice(1).map(Number)) : null;
}

function pem(label: string, der: Uint8Array): string {
  let bin = "";
  for (const b of der) bin += String.fromCharCode(b);
  const lines = btoa(bin).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** ECDSA signatures from WebCrypto are r‖s; X.509 wants SEQUENCE { INTEGER r, INTEGER s }. */
function derSignature(raw: Uint8Array): Uint8Array {
  const half = raw.length / 2;
  return seq(integer(raw.subarray(0, half)), integer(raw.subarray(half)));
}

/** A PEM certificate and its PKCS#8 private key. */
export interface SelfSignedPair {
  cert: string;
  key: string;
}

/** Makes a self-signed certificate for `hostname` (plus any IPv4 `ips`), valid `days` days. */
export async function makeSelfSignedCert(
  hostname: string,
  options: { ips?: string[]; days?: number; now?: Date } = {},
): Promise<SelfSignedPair> {
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));

  const now = options.now ?? new Date();
  const notBefore = new Date(now.getTime() - 60 * 60 * 1000);
  const notAfter = new Date(now.getTime() + (options.days ?? 3650) * 86_400_000);
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] &= 0x7f;
  const ecdsaWithSha256 = seq(oid("1.2.840.10045.4.3.2"));
  const name = seq(set(seq(oid("2.5.4.3"), utf8(hostname))));
  const altNames = [tlv(0x82, new TextEncoder().encode(hostname))];
  for (const ip of options.ips ?? []) {
    const bytes = ipBytes(ip);
    if (bytes) altNames.push(tlv(0x87, bytes));
  }
  const extensions = explicit(
    3,
    seq(
      seq(oid("2.5.29.19"), octets(seq())), // basicConstraints: not a CA
      seq(oid("2.5.29.17"), octets(seq(...altNames))), // subjectAltName
    ),
  );
  const tbs = seq(
    explicit(0, integer(new Uint8Array([2]))), // v3
    integer(serial),
    ecdsaWithSha256,
    name,
    seq(time(notBefore), time(notAfter)),
    name,
    spki,
    extensions,
  );
  const signature = new Uint8Array(
    await crypto.subtle.sign(
      { name: "ECDSA", hash: "SHA-256" },
      keys.privateKey,
      tbs as BufferSource,
    ),
  );
  const bitString = tlv(0x03, new Uint8Array([0]), derSignature(signature));
  const cert = seq(tbs, ecdsaWithSha256, bitString);
  return { cert: pem("CERTIFICATE", cert), key: pem("PRIVATE KEY", pkcs8) };
}
