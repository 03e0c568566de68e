/**
 * The suppression list: addresses whose mailbox a remote server said does not exist (a 5xx in
 * the bad_mailbox category) are not tried again for `bounce.suppression_time`; operators add
 * entries too (core/manage/suppressions.ts), for every sending domain or one. A unit's
 * suppressed recipients fail before any connection is made, with the reason logged.
 *
 * Complaints and one-click unsubscribes suppress an address for one sending domain only
 * (sender_suppressions), checked here too.
 *
 * Talks to: the store. Reads config: bounce.suppression_time.
 */
import type { LeasedUnit, RecipientResult, UnitOutcome } from "../contracts/mod.ts";
import { domainOf } from "../mail/mod.ts";
import type { SenderSuppression, Suppression, SuppressionStore } from "../store/mod.ts";
import { batchedSuppressions } from "./suppression_batch.ts";

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
  const until = s.expiresAt === null ? "" : ` until ${new Date(s.expiresAt).toISOString()}`;
  const scope = s.scope ? ` for mail from ${s.scope}` : "";
  // "smtp" (a reply) and "dsn" (a report) are the bounce stage's own sources: hard bounces.
  const hard = ["bounce", "smtp", "dsn"].includes(s.source ?? "bounce");
  const why = hard ? " after a hard bounce" : ` (${s.source})`;
  return `recipient suppressed${scope}${until}${why}` + (s.reason ? `: ${s.reason}` : "");
}

function senderView(s: Suppression): SenderSuppression {
  return {
    senderDomain: s.scope ?? "",
    address: s.address,
    category: s.category,
    reason: s.reason,
    source: s.source ?? "bounce",
    messageId: s.messageId,
    createdAt: s.createdAt,
    expiresAt: s.expiresAt ?? Number.MAX_SAFE_INTEGER,
  };
}

/** The reply recorded for a recipient suppressed for this sender (complaint, unsubscribe). */
export function senderSuppressedReply(s: SenderSuppression): string {
  return `recipient suppressed for ${s.senderDomain} after a ${s.source}` +
    (s.reason ? `: ${s.reason}` : "");
}

/**
 * Returns the delivery hook: splits a unit's suppressed recipients off as "suppressed"
 * results: the global entries (hard bounces, operators) and those of the unit's sending domain
 * or a parent of it (complaints, unsubscribes, operators). One indexed query per sending domain
 * for the units screened in the same turn (suppression_batch.ts: a lease batch starts at once).
 */
export function suppressionScreen(
  store: Pick<SuppressionStore, "suppressions">,
  log: (line: string) => void,
): (unit: LeasedUnit) => Promise<Screened> {
  const lookup = batchedSuppressions(store);
  return async (unit) => {
    // Read per batch, not cached: an entry added a moment ago holds for the next message. One
    // query covers the global entries and those scoped to the sending domain (0016).
    const found = await lookup(unit.recipients, domainOf(unit.sender));
    if (found.length === 0) return { unit, results: [] };
    const byAddress = new Map<string, string>();
    // A global entry's reply wins over a scoped one's (as when the lists were read in turn).
    for (const s of found.toSorted((x, y) => (y.scope ?? "").length - (x.scope ?? "").length)) {
      byAddress.set(s.address, s.scope ? senderSuppressedReply(senderView(s)) : suppressedReply(s));
    }
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
