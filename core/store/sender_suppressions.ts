/**
 * Suppressions for one sending domain (complaints, one-click unsubscribes): the address still
 * gets mail from other senders. Since 0016 they are entries of the one suppression list
 * (suppressions.ts) scoped to the sending domain; this is the view complaint and unsubscribe
 * handling write through.
 */
import type { SqlContext } from "./_sql.ts";
import { type Suppression, suppressionRepository } from "./suppressions.ts";

/** An address suppressed for one sending domain. */
export interface SenderSuppression {
  senderDomain: string;
  address: string;
  category: string;
  reason: string | null;
  /** "complaint", "unsubscribe", … */
  source: string;
  messageId: string | null;
  createdAt: number;
  expiresAt: number;
}

/** What complaint/unsubscribe handling takes. */
export interface SenderSuppressionStore {
  /** Active suppressions of `addresses` scoped to exactly `senderDomain`. */
  senderSuppressions(
    senderDomain: string,
    addresses: string[],
    now: number,
  ): Promise<SenderSuppression[]>;
  /** Adds or replaces suppressions. */
  addSenderSuppressions(entries: SenderSuppression[]): Promise<void>;
}

function senderSuppressionOf(s: Suppression): SenderSuppression {
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

/** The scoped entries on one database. */
export function senderSuppressionRepository(ctx: SqlContext): SenderSuppressionStore {
  const list = suppressionRepository(ctx);
  return {
    senderSuppressions: async (senderDomain, addresses, now) => {
      const scope = senderDomain.toLowerCase();
      return (await list.suppressions(addresses, now, scope))
        .filter((s) => s.scope === scope).map(senderSuppressionOf);
    },
    addSenderSuppressions: (entries) =>
      list.addSuppressions(entries.map((e) => ({
        address: e.address,
        scope: e.senderDomain,
        category: e.category,
        source: e.source,
        code: null,
        reason: e.reason,
        messageId: e.messageId,
        createdAt: e.createdAt,
        expiresAt: e.expiresAt,
      }))),
  };
}
