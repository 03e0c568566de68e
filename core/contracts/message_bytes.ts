/**
 * A message's bytes as the accept path takes them: one buffer, or pieces in order. The SMTP engine
 * hands on views of its socket reads as pieces, and the body spool writes them without a joined
 * copy (core/spool/segments.ts); a SQL body column joins them once.
 */

/** One buffer, or pieces to be read in order. */
export type MessageBytes = Uint8Array | readonly Uint8Array[];

/** How many bytes `bytes` holds. */
export function byteLengthOf(bytes: MessageBytes): number {
  if (bytes instanceof Uint8Array) return bytes.byteLength;
  let n = 0;
  for (const piece of bytes) n += piece.byteLength;
  return n;
}

/** `bytes` as one buffer: itself when it is one, else a joined copy. */
export function joinedBytes(bytes: MessageBytes): Uint8Array {
  if (bytes instanceof Uint8Array) return bytes;
  const out = new Uint8Array(byteLengthOf(bytes));
  let at = 0;
  for (const piece of bytes) {
    out.set(piece, at);
    at += piece.byteLength;
  }
  return out;
}
