/**
 * The delivery hook for per-recipient envelopes: a VERP return path
 * (`<prefix>+<token>@<bounce domain>`) when `bounce.verp` applies to the message's sending
 * domain or pool (core/bounce/policy.ts: the file's keys and the bounce policies), and `List-Unsubscribe` / `List-Unsubscribe-Post` (RFC 8058 one-click) with a
 * signed link when `bounce.unsubscribe.enabled`. Both are read from the live config at each
 * attempt. Never for the null sender (DSNs keep `MAIL FROM:<>` and get no unsubscribe link).
 *
 * Reads config: bounce.verp.*, bounce.unsubscribe.*, bouncePolicies.
 */
import type { Config } from "../config/mod.ts";
import type { LeasedUnit } from "../contracts/mod.ts";
import { domainOf } from "../mail/mod.ts";
import { effectiveBounce } from "./policy.ts";
import { makeToken, type TokenKey, verpAddress } from "./tokens.ts";

/** Whether VERP applies to `unit` sent through `pool`. */
export function wantsVerp(config: Config, unit: LeasedUnit, pool: string): boolean {
  if (unit.sender === "") return false;
  return effectiveBounce(config, domainOf(unit.sender), pool).verp.enabled;
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
    if (unit.sender === "") return null;
    const settings = effectiveBounce(config, domainOf(unit.sender), pool);
    const verp = settings.verp.enabled;
    const unsubscribe = settings.unsubscribe;
    const links = unsubscribe.enabled;
    if (!verp && !links) return null;
    const domain = settings.verp.domain ?? "";
    const prefix = settings.verp.prefix;
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
