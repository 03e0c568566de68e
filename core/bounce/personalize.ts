/**
 * The delivery hook for per-recipient envelopes: a VERP return path
 * (`<prefix>+<token>@<bounce domain>`) when `bounce.verp` applies to the message's sending
 * domain or pool, and `List-Unsubscribe` / `List-Unsubscribe-Post` (RFC 8058 one-click) with a
 * signed link when `bounce.unsubscribe.enabled`. Both are read from the live config at each
 * attempt. Never for the null sender (DSNs keep `MAIL FROM:<>` and get no unsubscribe link).
 *
 * Reads config: bounce.verp.*, bounce.unsubscribe.*.
 */
import type { Config } from "../config/mod.ts";
import type { LeasedUnit } from "../contracts/mod.ts";
import { domainOf } from "../mail/mod.ts";
import { makeToken, type TokenKey, verpAddress } from "./tokens.ts";

/** Whether VERP applies to `unit` sent through `pool`. */
export function wantsVerp(config: Config, unit: LeasedUnit, pool: string): boolean {
  const verp = config.bounce.verp;
  if (!verp.enabled || !verp.domain || unit.sender === "") return false;
  if (verp.sender_domains.length === 0 && verp.pools.length === 0) return true;
  return verp.sender_domains.includes(domainOf(unit.sender)) || verp.pools.includes(pool);
}

/** The one-click unsubscribe URL of one recipient of one message. */
export function unsubscribeUrl(
  key: TokenKey,
  baseUrl: string,
  messageId: string,
  recipient: string,
): string {
  const token = makeToken(key, "unsubscribe", messageId, recipient);
  return `${baseUrl.replace(/\/+$/, "")}/unsubscribe/${token}`;
}

/** The RFC 8058 header lines for `url` (CRLF-ended). */
export function unsubscribeHeaders(url: string): string {
  return `List-Unsubscribe: <${url}>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n`;
}

/** The hook core/delivery calls per attempt (see `PersonalizeHook` there). */
export function personalizeHook(config: Config, key: TokenKey) {
  return (unit: LeasedUnit, pool: string) => {
    const verp = wantsVerp(config, unit, pool);
    const unsubscribe = config.bounce.unsubscribe;
    const links = unsubscribe.enabled && Boolean(unsubscribe.base_url) && unit.sender !== "";
    if (!verp && !links) return null;
    const domain = config.bounce.verp.domain ?? "";
    const prefix = config.bounce.verp.prefix;
    return (recipient: string) => ({
      sender: verp ? verpAddress(key, { prefix, domain }, unit.messageId, recipient) : unit.sender,
      headers: links
        ? unsubscribeHeaders(
          unsubscribeUrl(key, unsubscribe.base_url!, unit.messageId, recipient),
        )
        : "",
    });
  };
}
