/**
 * An independent DKIM verifier for tests: npm `mailauth`'s `dkimVerify`, resolving TXT records
 * through a function (e.g. a map, or a query to the test DNS server).
 *
 * @module
 */
import { Buffer } from "node:buffer";
// @ts-types="./_mailauth_verify.d.ts"
import { dkimVerify } from "mailauth/lib/dkim/verify.js";

/** The verdict on one signature. */
export interface Verdict {
  domain: string;
  selector: string;
  /** "pass", "fail", "neutral", … */
  result: string;
  comment?: string;
}

/** Verifies every signature of `message`; `txt(name)` returns the record value or undefined. */
export async function verifyDkim(
  message: Uint8Array,
  txt: (name: string) => string | undefined | Promise<string | undefined>,
): Promise<Verdict[]> {
  const { results } = await dkimVerify(Buffer.from(message), {
    resolver: async (name, type) => {
      const value = type === "TXT" ? await txt(name) : undefined;
      if (!value) {
        const error = new Error(`no ${type} record for ${name}`) as Error & { code: string };
        error.code = "ENOTFOUND";
        throw error;
      }
      return [[value]];
    },
  });
  return results.map((r) => ({
    domain: r.signingDomain,
    selector: r.selector,
    result: r.status.result,
    comment: r.status.comment,
  }));
}
