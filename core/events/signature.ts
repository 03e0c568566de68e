/**
 * Webhook signatures, in the shape Stripe uses: the header
 * `X-Fastmta-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, keyed with
 * the webhook's secret. A receiver recomputes the HMAC over the raw body it got, compares in
 * constant time, and refuses a `t` too far from its clock (replays). See docs/webhooks.md.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { Buffer } from "node:buffer";

/** The header carrying the signature. */
export const SIGNATURE_HEADER = "X-Fastmta-Signature";

/** The hex HMAC-SHA256 of `<timestamp>.<body>`. */
export function signatureOf(secret: string, timestamp: number, body: string): string {
  return createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
}

/** The header value for `body` signed at `timestamp` (unix seconds). */
export function signatureHeader(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${signatureOf(secret, timestamp, body)}`;
}

/**
 * Whether `header` is a valid signature of `body` with `secret`, made within `toleranceS`
 * seconds of `nowS`. Any `v1=` entry may match (a secret being rotated signs twice).
 */
export function verifySignature(
  secret: string,
  header: string,
  body: string,
  options: { nowS?: number; toleranceS?: number } = {},
): boolean {
  const parts = header.split(",").map((p) => p.trim().split("=", 2));
  const t = Number(parts.find(([k]) => k === "t")?.[1]);
  if (!Number.isInteger(t)) return false;
  const now = options.nowS ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - t) > (options.toleranceS ?? 300)) return false;
  const expected = Buffer.from(signatureOf(secret, t, body), "hex");
  return parts.some(([k, v]) => {
    if (k !== "v1" || !v || !/^[0-9a-f]+$/i.test(v)) return false;
    const given = Buffer.from(v, "hex");
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
