/**
 * Body heads of units prepared in the same turn of the event loop, read in one statement. The
 * delivery engine starts a whole lease batch at once, so on a server database this turns one
 * round trip and one commit per message into one per batch (docs/performance.md, distributed
 * mode). Nothing is cached: each call reads the message as it is when its batch runs.
 *
 * Written here rather than with `dataloader` for the same reason as core/bounce's
 * suppression batch: a keyed batch per turn is a dozen lines, and the head size is part of the key.
 */
import type { BodyHead, BodyStore } from "../store/mod.ts";

interface Pending {
  messageId: string;
  resolve: (head: BodyHead | null) => void;
  reject: (error: unknown) => void;
}

/** `readBodyHead(messageId, maxBytes)` batched per turn and head size. */
export function batchedBodyHeads(
  store: Pick<BodyStore, "readBodyHeads">,
): (messageId: string, maxBytes: number) => Promise<BodyHead | null> {
  let waiting = new Map<number, Pending[]>();
  const flush = () => {
    const groups = waiting;
    waiting = new Map();
    for (const [maxBytes, pending] of groups) {
      store.readBodyHeads(pending.map((p) => p.messageId), maxBytes).then(
        (heads) => {
          // Two units of one message (two domains) share no buffer: each frees its own.
          const handed = new Set<string>();
          for (const p of pending) {
            const found = heads.get(p.messageId);
            if (!found) p.resolve(null);
            else if (!handed.has(p.messageId)) {
              handed.add(p.messageId);
              p.resolve(found);
            } else p.resolve({ head: found.head.slice(), size: found.size });
          }
        },
        (error) => pending.forEach((p) => p.reject(error)),
      );
    }
  };
  return (messageId, maxBytes) =>
    new Promise((resolve, reject) => {
      if (waiting.size === 0) setTimeout(flush, 0);
      const group = waiting.get(maxBytes) ?? [];
      group.push({ messageId, resolve, reject });
      waiting.set(maxBytes, group);
    });
}
