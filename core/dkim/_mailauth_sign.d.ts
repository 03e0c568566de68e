/**
 * The part of npm `mailauth`'s `lib/dkim/sign.js` we use. Declared here because the package's
 * own declarations pull in `@types/node`, whose globals clash with Deno's node types.
 */

/** One signature to make. */
export interface SignatureData {
  signingDomain: string;
  selector: string;
  /** PKCS#8 PEM. */
  privateKey: string;
  algorithm?: string;
  canonicalization?: string;
}

/** Options of `dkimSign`. */
export interface DkimSignOptions {
  canonicalization?: string;
  signTime?: Date;
  headerList?: string | string[];
  signatureData: SignatureData[];
}

/** What `dkimSign` returns: the header lines to prepend (CRLF-terminated) and the errors. */
export interface DkimSignResult {
  signatures: string;
  errors: { err?: Error; selector?: string; signingDomain?: string }[];
  warnings: string[];
}

/** Computes DKIM signatures for a whole message. */
export function dkimSign(
  input: Uint8Array | string,
  options: DkimSignOptions,
): Promise<DkimSignResult>;
