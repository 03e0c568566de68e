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
