/**
 * Suppression lookups of units screened in the same turn of the event loop, read in one query
 * per sending domain. The delivery engine starts a whole lease batch at once, so on a server
 * database this turns one round trip and one commit per message into one per batch (measured
 * in docs/performance.md, issue 19 distributed). Nothing is cached: every lookup still reads
 * the entries as they are when its batch runs.
 *
 * Written here rather than with `dataloader`: it needs grouping by sending domain and the
 * `now` of the batch, and is a dozen lines.
 */
import type { Suppression, SuppressionStore } from "../store/mod.ts";

interface Pending {
  addresses: string[];
  resolve: (found: Suppression[]) => void;
  reject: (error: unknown) => void;
}

/** `suppressions(addresses, now, senderDomain)` batched per turn and sending domain. */
export function batchedSuppressions(
  store: Pick<SuppressionStore, "suppressions">,
): (addresses: string[], senderDomain: string | undefined) => Promise<Suppression[]> {
  let waiting = new Map<string | undefined, Pending[]>();
  const flush = () => {
    const groups = waiting;
    waiting = new Map();
    const now = Date.now();
    for (const [domain, pending] of groups) {
      const all = [...new Set(pending.flatMap((p) => p.addresses))];
      store.suppressions(all, now, domain).then(
        (found) => {
          for (const p of pending) {
            const mine = new Set(p.addresses.map((a) => a.toLowerCase()));
            p.resolve(found.filter((s) => mine.has(s.address.toLowerCase())));
          }
        },
        (error) => pending.forEach((p) => p.reject(error)),
      );
    }
  };
  return (addresses, senderDomain) =>
    new Promise((resolve, reject) => {
      if (waiting.size === 0) setTimeout(flush, 0);
      const group = waiting.get(senderDomain) ?? [];
      group.push({ addresses, resolve, reject });
      waiting.set(senderDomain, group);
    });
}
