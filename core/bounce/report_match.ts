/**
 * Matching a parsed report to the original message and recipient: the VERP token first (the
 * envelope recipient it came to, else the Return-Path of the returned original, as complaints
 * carry it), else our own `Received:` trace id, else a Message-ID of ours (`<queue id@…>`).
 * A token that does not verify, or names a message older than `bounce.token_max_age`, is a
 * refusal: forged or replayed reports change nothing.
 *
 * Talks to: the store (the original message). Reads config: bounce.verp.*, bounce.token_max_age.
 */
import type { Config } from "../config/mod.ts";
import { domainOf, localPartOf } from "../mail/mod.ts";
import type { BouncedMessage, BounceReportStore } from "../store/mod.ts";
import type { ParsedReport } from "./report_parse.ts";
import { splitToken, type TokenKey, tokenRecipient, verpTokenOf } from "./tokens.ts";
import { verpDomains } from "./policy.ts";

/** The original a report is about. */
export interface Matched {
  message: BouncedMessage;
  /** The recipient (as stored), or null when the report names none of the message's. */
  recipient: { id: number; address: string; state: string } | null;
  via: "verp" | "return_path" | "trace" | "message_id";
}

/** The outcome of matching. */
export type MatchResult =
  | { kind: "matched"; matched: Matched }
  | { kind: "refused"; reason: string }
  | { kind: "unmatched" };

/** The VERP token of an address at the VERP domain, or null. */
export function verpTokenOfAddress(config: Config, address: string | null): string | null {
  if (!address) return null;
  const prefix = verpDomains(config).get(domainOf(address).toLowerCase());
  if (prefix === undefined) return null;
  return verpTokenOf(localPartOf(address), prefix);
}

/**
 * Verifies a VERP token: the message and recipient it names, or why it is refused.
 */
export async function verifyToken(
  store: Pick<BounceReportStore, "bouncedMessage">,
  key: TokenKey,
  config: Config,
  token: string,
  now: number,
): Promise<{ message: BouncedMessage; recipient: Matched["recipient"] } | { refused: string }> {
  const parts = splitToken(token);
  if (!parts) return { refused: "malformed bounce token" };
  const message = await store.bouncedMessage(parts.queueId);
  const address = message
    ? tokenRecipient(key, "verp", parts, message.recipients.map((r) => r.address))
    : null;
  if (!message || !address) return { refused: "invalid bounce token" };
  if (now - message.createdAt > config.bounce.token_max_age) {
    return { refused: "expired bounce token (older than bounce.token_max_age)" };
  }
  const recipient = message.recipients.find((r) => r.address === address) ?? null;
  return { message, recipient };
}

/** The recipient of `message` the report names (report entries first, then the original's). */
function namedRecipient(message: BouncedMessage, parsed: ParsedReport): Matched["recipient"] {
  const candidates = [
    ...parsed.recipients.map((r) => r.address?.toLowerCase()).filter((a) => a),
    ...parsed.original.addresses,
  ];
  for (const candidate of candidates) {
    const found = message.recipients.find((r) => r.address.toLowerCase() === candidate);
    if (found) return found;
  }
  // A redacted complaint about a one-recipient message still names it.
  return message.recipients.length === 1 ? message.recipients[0] : null;
}

/** Matches `parsed`, received for `envelopeRecipients`, to its original. */
export async function matchReport(
  store: Pick<BounceReportStore, "bouncedMessage">,
  key: TokenKey,
  config: Config,
  parsed: ParsedReport,
  envelopeRecipients: string[],
  now: number,
): Promise<MatchResult> {
  const tokens: [string, "verp" | "return_path"][] = [];
  for (const rcpt of envelopeRecipients) {
    const token = verpTokenOfAddress(config, rcpt);
    if (token) tokens.push([token, "verp"]);
  }
  const fromReturnPath = verpTokenOfAddress(config, parsed.original.returnPath);
  if (fromReturnPath) tokens.push([fromReturnPath, "return_path"]);
  if (tokens.length > 0) {
    const [token, via] = tokens[0];
    const verified = await verifyToken(store, key, config, token, now);
    if ("refused" in verified) return { kind: "refused", reason: verified.refused };
    // The token names the recipient; the report's own entries cannot change that.
    return { kind: "matched", matched: { ...verified, via } };
  }
  for (const queueId of parsed.original.queueIds) {
    const message = await store.bouncedMessage(queueId);
    if (message) {
      return {
        kind: "matched",
        matched: { message, recipient: namedRecipient(message, parsed), via: "trace" },
      };
    }
  }
  const ours = /^([0-9BCDFGHJKLMNPQRSTVWXYZ]{16})@(.+)$/i.exec(parsed.original.messageId ?? "");
  if (ours && ours[2].toLowerCase() === config.smtp.hostname.toLowerCase()) {
    const message = await store.bouncedMessage(ours[1].toUpperCase());
    if (message) {
      return {
        kind: "matched",
        matched: { message, recipient: namedRecipient(message, parsed), via: "message_id" },
      };
    }
  }
  return { kind: "unmatched" };
}
