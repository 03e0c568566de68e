/**
 * One-click unsubscribe (RFC 8058): the signed link of `List-Unsubscribe` names a message and,
 * through its MAC, one of its recipients. A POST there suppresses that address for the
 * message's sending domain (source "unsubscribe"), without a login; a token that does not
 * verify changes nothing.
 *
 * Talks to: the store. Reads config: bounce.complaint_time.
 */
import type { Config } from "../config/mod.ts";
import { domainOf } from "../mail/mod.ts";
import { emitEvent } from "../events/emit.ts";
import type { BounceReportStore, SenderSuppressionStore } from "../store/mod.ts";
import type { ClusterSecretStore } from "../store/mod.ts";
import { loadTokenKey, splitToken, type TokenKey, tokenRecipient } from "./tokens.ts";

/** Who was unsubscribed from whom. */
export interface Unsubscribed {
  address: string;
  senderDomain: string;
  messageId: string;
}

/** The unsubscribe action behind the public link. */
export type UnsubscribeAction = (token: string) => Promise<Unsubscribed | null>;

/** Builds the action; null from it means the token is not one of ours. */
export function unsubscribeAction(
  store:
    & Pick<BounceReportStore, "bouncedMessage">
    & Pick<SenderSuppressionStore, "addSenderSuppressions">,
  key: TokenKey,
  config: Config,
  log: (line: string) => void,
): UnsubscribeAction {
  return async (token) => {
    const parts = splitToken(token);
    if (!parts) return null;
    const message = await store.bouncedMessage(parts.queueId);
    if (!message) return null;
    const address = tokenRecipient(
      key,
      "unsubscribe",
      parts,
      message.recipients.map((r) => r.address),
    );
    if (!address) return null;
    const now = Date.now();
    const senderDomain = domainOf(message.sender);
    await store.addSenderSuppressions([{
      senderDomain,
      address,
      category: "unsubscribe",
      reason: "one-click unsubscribe (RFC 8058)",
      source: "unsubscribe",
      messageId: message.id,
      createdAt: now,
      expiresAt: now + config.bounce.complaint_time,
    }]);
    emitEvent({
      type: "suppression_added",
      message_id: message.id,
      sender: message.sender,
      recipient: address.toLowerCase(),
      domain: domainOf(address),
      category: "unsubscribe",
      reason: `one-click unsubscribe (RFC 8058) from ${senderDomain}`,
    });
    log(`bounce: <${address}> unsubscribed from ${senderDomain} (message ${message.id})`);
    return { address: address.toLowerCase(), senderDomain, messageId: message.id };
  };
}

/** The action on the cluster's token key (loaded, or made, from the store). */
export async function openUnsubscribe(
  store:
    & Pick<BounceReportStore, "bouncedMessage">
    & Pick<SenderSuppressionStore, "addSenderSuppressions">
    & ClusterSecretStore,
  config: Config,
  log: (line: string) => void,
): Promise<UnsubscribeAction> {
  return unsubscribeAction(store, await loadTokenKey(store), config, log);
}
