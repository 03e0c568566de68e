/**
 * Freeing message buffers as soon as they are done with. A body is an ArrayBuffer outside V8's
 * heap; if its object lived long enough to be promoted (a message waits for its group commit or
 * its remote server), V8 frees it only at a full GC, which it triggers for external memory only
 * after tens of MB per isolate. Detaching it (`ArrayBuffer.prototype.transfer(0)`) frees the
 * bytes at once.
 */

/**
 * Frees `view`'s bytes now. Only for a buffer we own outright (the view covers the whole
 * ArrayBuffer, so it is no pooled slice) and that nothing reads any more: afterwards it is empty.
 */
export function releaseBytes(view: Uint8Array | null | undefined): void {
  if (!view) return;
  const buffer = view.buffer;
  if (!(buffer instanceof ArrayBuffer) || buffer.detached) return;
  if (view.byteOffset !== 0 || view.byteLength !== buffer.byteLength) return;
  try {
    buffer.transfer(0);
  } catch {
    // Not detachable (e.g. owned by the runtime): the GC frees it in time.
  }
}

/**
 * A message's bytes: one buffer, or pieces in order. The SMTP engine hands on views of its socket
 * reads as pieces, and the body spool writes them without a joined copy (core/spool/segments.ts).
 */
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
