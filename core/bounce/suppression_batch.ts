/**
 * Suppression lookups of units screened in the same turn of the event loop, read in one query
 * per sending domain (core/turn_batch.ts). On a server database this turns one round trip and one
 * commit per message into one per lease batch (measured in docs/performance.md, issue 19
 * distributed). Every lookup reads the entries as they are when its batch runs.
 */
import type { Suppression, SuppressionStore } from "../store/mod.ts";
import { batchPerTurn } from "../turn_batch.ts";

/** `suppressions(addresses, now, senderDomain)` batched per turn and sending domain. */
export function batchedSuppressions(
  store: Pick<SuppressionStore, "suppressions">,
): (addresses: string[], senderDomain: string | undefined) => Promise<Suppression[]> {
  const lookup = batchPerTurn<string | undefined, string[], Suppression[]>(
    async (domain, lists) => {
      const found = await store.suppressions([...new Set(lists.flat())], Date.now(), domain);
      return lists.map((addresses) => {
        const mine = new Set(addresses.map((a) => a.toLowerCase()));
        return found.filter((s) => mine.has(s.address.toLowerCase()));
      });
    },
  );
  return (addresses, senderDomain) => lookup(senderDomain, addresses);
}
