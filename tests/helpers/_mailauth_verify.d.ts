/**
 * The part of npm `mailauth`'s `lib/dkim/verify.js` the tests use. Declared here because the
 * package's own declarations pull in `@types/node`, whose globals clash with Deno's node types.
 */

/** Options of `dkimVerify`. */
export interface DkimVerifyOptions {
  /** DNS lookups: resolves to the TXT record's character-strings, one array per record. */
  resolver?: (name: string, type: string) => Promise<string[][]>;
  curTime?: Date;
}

/** One signature's verdict. */
export interface DkimVerifyResult {
  signingDomain: string;
  selector: string;
  algo?: string;
  status: { result: string; comment?: string; header?: Record<string, string> };
}

/** Verifies every DKIM-Signature of a message. */
export function dkimVerify(
  input: Uint8Array | string,
  options?: DkimVerifyOptions,
): Promise<{ results: DkimVerifyResult[] }>;
