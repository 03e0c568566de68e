/**
 * The suppression list: addresses whose mailbox a remote server said does not exist (a 5xx in
 * the bad_mailbox category) are not tried again for `bounce.suppression_time`. A unit's
 * suppressed recipients fail before any connection is made, with the reason logged.
 *
 * Complaints and one-click unsubscribes suppress an address for one sending domain only
 * (sender_suppressions), checked here too.
 *
 * Talks to: the store. Reads config: bounce.suppression_time.
 */
import type { LeasedUnit, RecipientResult, UnitOutcome } from "../contracts/mod.ts";
import { domainOf } from "../mail/mod.ts";
import type {
  SenderSuppression,
  SenderSuppressionStore,
  Suppression,
  SuppressionStore,
} from "../store/mod.ts";

/** What the delivery hook gets back: the unit without suppressed recipients, and their results. */
export interface Screened {
  unit: LeasedUnit;
  results: RecipientResult[];
}

/** The suppressions a batch of outcomes earns: permanent bad-mailbox replies from a server. */
export function suppressionsFrom(outcomes: UnitOutcome[], durationMs: number): Suppression[] {
  if (durationMs <= 0) return [];
  const entries: Suppression[] = [];
  for (const o of outcomes) {
    for (const r of o.results) {
      if (r.outcome !== "failed" || r.category !== "bad_mailbox") continue;
      if (r.code === null || r.code < 500) continue;
      entries.push({
        address: r.address.toLowerCase(),
        category: r.category,
        code: r.code,
        reason: r.reply.slice(0, 1000),
        messageId: o.messageId,
        createdAt: o.at,
        expiresAt: o.at + durationMs,
        source: "smtp",
      });
    }
  }
  return entries;
}

/** The reply recorded for a recipient that was not tried. */
export function suppressedReply(s: Suppression): string {
  return `recipient suppressed until ${new Date(s.expiresAt).toISOString()} after a hard bounce` +
    (s.reason ? `: ${s.reason}` : "");
}

/** The reply recorded for a recipient suppressed for this sender (complaint, unsubscribe). */
export function senderSuppressedReply(s: SenderSuppression): string {
  return `recipient suppressed for ${s.senderDomain} after a ${s.source}` +
    (s.reason ? `: ${s.reason}` : "");
}

/**
 * Returns the delivery hook: splits a unit's suppressed recipients off as "suppressed"
 * results: the global list (hard bounces), then the list of the unit's sending domain
 * (complaints, unsubscribes). One indexed query per list per unit.
 */
export function suppressionScreen(
  store: Pick<SuppressionStore, "suppressions"> & Partial<SenderSuppressionStore>,
  log: (line: string) => void,
): (unit: LeasedUnit) => Promise<Screened> {
  return async (unit) => {
    const now = Date.now();
    const found = await store.suppressions(unit.recipients, now);
    const byAddress = new Map<string, string>(
      found.map((s) => [s.address, suppressedReply(s)]),
    );
    const senderDomain = domainOf(unit.sender);
    if (senderDomain !== "" && store.senderSuppressions) {
      const rest = unit.recipients.filter((a) => !byAddress.has(a.toLowerCase()));
      for (const s of await store.senderSuppressions(senderDomain, rest, now)) {
        byAddress.set(s.address, senderSuppressedReply(s));
      }
    }
    if (byAddress.size === 0) return { unit, results: [] };
    const results: RecipientResult[] = [];
    const rest: string[] = [];
    for (const address of unit.recipients) {
      const reply = byAddress.get(address.toLowerCase());
      if (!reply) {
        rest.push(address);
        continue;
      }
      log(`bounce: ${unit.messageId}: not sending to <${address}>: ${reply}`);
      results.push({ address, outcome: "suppressed", code: null, reply, category: "suppressed" });
    }
    return { unit: { ...unit, recipients: rest }, results };
  };
}
