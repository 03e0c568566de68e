/**
 * Body heads of units prepared in the same turn of the event loop, read in one statement per head
 * size (core/turn_batch.ts). On a server database this turns one round trip and one commit per
 * message into one per lease batch (docs/performance.md, distributed mode).
 */
import type { BodyHead, BodyStore } from "../store/mod.ts";
import { batchPerTurn } from "../turn_batch.ts";

/** `readBodyHead(messageId, maxBytes)` batched per turn and head size. */
export function batchedBodyHeads(
  store: Pick<BodyStore, "readBodyHeads">,
): (messageId: string, maxBytes: number) => Promise<BodyHead | null> {
  const read = batchPerTurn<number, string, BodyHead | null>(async (maxBytes, messageIds) => {
    const heads = await store.readBodyHeads(messageIds, maxBytes);
    // Two units of one message (two domains) share no buffer: each frees its own.
    const handed = new Set<string>();
    return messageIds.map((id) => {
      const found = heads.get(id);
      if (!found) return null;
      if (handed.has(id)) return { ...found, head: found.head.slice() };
      handed.add(id);
      return found;
    });
  });
  return (messageId, maxBytes) => read(maxBytes, messageId);
}
