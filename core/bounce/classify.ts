/**
 * Reply classification: turns a remote reply (or our own reason when no server answered) into a
 * bounce category. Texts are tried first, most specific first, because the same enhanced code
 * means different things at different providers (Gmail's 5.7.1 is spam, Outlook's 5.7.1 may be
 * a block list, Postfix's 5.7.1 is relaying denied); the enhanced status code (RFC 3463) and
 * then the basic code decide when no text matches.
 *
 * The operator's rules (operator_rules.ts, `config.bounceRules`) come before all of these.
 *
 * Pure functions: no I/O; the caller passes the rules it read from its config.
 */
import type { BounceRule } from "../config/mod.ts";
import type { RecipientResult, UnitOutcome } from "../contracts/mod.ts";
import { matchBounceRule } from "./operator_rules.ts";

/** Why a recipient bounced or was deferred. */
export type BounceCategory =
  /** The mailbox does not exist or is disabled: the address is dead (suppressed). */
  | "bad_mailbox"
  /** The recipient's domain does not exist or accepts no mail. */
  | "bad_domain"
  | "mailbox_full"
  | "too_large"
  /** Judged as spam: content, IP/domain reputation, block lists. */
  | "spam_block"
  /** Throttling: too many connections/messages, unusual rate. */
  | "rate_limit"
  /** Sender authentication: SPF, DKIM, DMARC. */
  | "auth"
  /** Other refusals by the receiver's policy: relaying denied, TLS required, greylisting. */
  | "policy"
  /** Malformed or unacceptable content (RFC 3463 X.6.X). */
  | "content"
  /** The receiving system's own trouble. */
  | "system"
  /** SMTP syntax or sequence errors. */
  | "protocol"
  /** Our DNS lookups failed. */
  | "dns"
  | "timeout"
  /** Connection refused, reset or closed. */
  | "connection"
  /** DKIM signing failed and the message was held. */
  | "dkim"
  /** Not tried: the address is on the suppression list. */
  | "suppressed"
  | "other";

// Every category once: the list below is checked against the type by the compiler.
const CATEGORY_SET: Record<BounceCategory, true> = {
  bad_mailbox: true,
  bad_domain: true,
  mailbox_full: true,
  too_large: true,
  spam_block: true,
  rate_limit: true,
  auth: true,
  policy: true,
  content: true,
  system: true,
  protocol: true,
  dns: true,
  timeout: true,
  connection: true,
  dkim: true,
  suppressed: true,
  other: true,
};

/** Every bounce category (what a bounce rule may map a reply to). */
export const BOUNCE_CATEGORIES = Object.keys(CATEGORY_SET) as BounceCategory[];

/** Whether `name` is a bounce category. */
export function isBounceCategory(name: string): name is BounceCategory {
  return Object.hasOwn(CATEGORY_SET, name);
}

/** A reply to classify. */
export interface ReplyToClassify {
  /** The SMTP code, or null when no server answered (our own reason). */
  code: number | null;
  /** The reply text (may include the code, as in "550 5.1.1 No such user"). */
  text: string;
}

type Rule = readonly [BounceCategory, RegExp];

/** Our own reasons, when no server answered (see core/delivery). */
const LOCAL_RULES: readonly Rule[] = [
  ["suppressed", /\bsuppressed\b/i],
  ["dkim", /\bdkim\b/i],
  ["bad_domain", /null mx|does not accept mail|domain \S+ not found|nxdomain/i],
  ["timeout", /timed? ?out|timeout/i],
  ["dns", /\bdns\b|resolve|mx host|lookup/i],
  [
    "connection",
    /refused|reset|closed|unreachable|econn|ehost|enet|broken pipe|tls|certificate|handshake/i,
  ],
  ["protocol", /malformed|too long|unexpected reply/i],
];

/** Remote texts, most specific first. */
const TEXT_RULES: readonly Rule[] = [
  [
    "rate_limit",
    /rate.?limit|receiving mail at a rate|unusual rate|too many (connections|messages|mails|recipients|sessions|concurrent)|concurrent (server )?connections|unexpected volume|throttl|sending (rate|volume) |try again later.*(volume|rate)|\bTS0[1-4]\b|\bTSS0[1-4]\b/i,
  ],
  [
    "auth",
    /unauthenticated|\b(spf|dkim|dmarc)\b|sender (domain )?authentication|authentication (check )?fail|not pass (spf|dkim|dmarc)/i,
  ],
  [
    "spam_block",
    /spam|unsolicited|\bUBE\b|junk mail|blocked using|block ?list|black ?list|\bRBL\b|dnsbl|spamhaus|spamcop|barracuda|sorbs|reputation|banned sending|traffic not accepted|\bS3150\b|\bTSS09\b|user complaints|listed (at|in|on)\b/i,
  ],
  // About our sender, not the recipient: never a reason to suppress the recipient.
  [
    "policy",
    /sender address rejected|sender (domain|address)\b.{0,30}\b(not found|unknown|invalid)/i,
  ],
  [
    "mailbox_full",
    /mailbox (is )?full|inbox is full|over ?quota|quota ?exceeded|exceeded (the |their |his |her )?(storage|quota)|out of storage|mailbox size limit|storage allocation|insufficient (mailbox )?storage space|mailbox.{0,20}exceeds/i,
  ],
  [
    "too_large",
    /message (size )?(exceeds|exceeded|too (big|large))|size (limit|exceeds)|exceeded .{0,40}size limit|(is|was) too (big|large)|message size/i,
  ],
  [
    "bad_mailbox",
    /user unknown|unknown user|no such (user|mailbox|recipient|address|account)|(user|mailbox|recipient|address|account)( [^\s.]+){0,6} (does not|doesn't|did not|do not) exist|does not exist|recipient ?not ?found|mailbox (not found|unavailable|does not exist)|invalid (recipient|mailbox|user|address)|not a valid (mailbox|recipient|user)|unknown (recipient|mailbox|local.?part|address)|recipient address rejected: (user unknown|access denied)|(account|mailbox|user)\b.{0,40}\b(is|has been) (disabled|deactivated|inactive|suspended|terminated|closed|locked)|doesn't have a \S+ account|no mailbox here|unrouteable address/i,
  ],
  [
    "bad_domain",
    /host unknown|domain (not found|does not exist|unknown|name not found)|no such domain|unrouteable domain|unable to route|null mx|does not accept mail/i,
  ],
  [
    "protocol",
    /syntax|command not recognized|unrecognized command|bad sequence|out of sequence|need (mail|rcpt|helo|ehlo)|line too long/i,
  ],
  [
    "policy",
    /relay|starttls|tls (is )?required|must issue|authentication required|not authori[sz]ed|not allowed|not permitted|polic(y|ies)|access denied|sender address rejected|greylist|graylist|administrative prohibition|prohibited/i,
  ],
  [
    "content",
    /content|virus|malware|attachment|message.{0,20}(invalid|malformed)|rfc ?5322|header/i,
  ],
  [
    "system",
    /system (problem|error|not accepting|busy)|temporar(il)?y (system )?(problem|failure|unavailable|error)|insufficient system storage|local error|try again later|service (is )?(temporarily )?(not )?(un)?available/i,
  ],
];

const ENHANCED = /\b([245])\.(\d{1,3})\.(\d{1,3})\b/g;

/**
 * The enhanced status code (RFC 3463) in a reply, e.g. "5.1.1"; its class must agree with the
 * basic code when there is one. Null when the text carries none.
 */
export function enhancedStatus(code: number | null, text: string): string | null {
  const wantClass = code === null ? null : String(Math.floor(code / 100));
  for (const m of text.matchAll(ENHANCED)) {
    if (wantClass === null || m[1] === wantClass) return `${m[1]}.${m[2]}.${m[3]}`;
  }
  return null;
}

function byEnhancedCode(status: string): BounceCategory | null {
  const [, subject, detail] = status.split(".").map(Number);
  const both = `${subject}.${detail}`;
  switch (both) {
    case "1.1":
    case "1.3":
    case "1.6":
    case "1.10":
    case "2.1":
      return "bad_mailbox";
    case "1.2":
    case "4.4":
      return "bad_domain";
    case "2.2":
      return "mailbox_full";
    case "2.3":
    case "3.4":
      return "too_large";
    case "4.7":
      return "timeout";
    case "7.28":
      return "rate_limit";
  }
  if (subject === 7 && detail >= 20 && detail <= 27) return "auth";
  switch (subject) {
    case 3:
      return "system";
    case 4:
      return "connection";
    case 5:
      return "protocol";
    case 6:
      return "content";
    case 7:
      return "policy";
  }
  return null;
}

function byBasicCode(code: number): BounceCategory {
  switch (code) {
    case 421:
    case 451:
    case 452:
      return "system";
    case 552:
      return "mailbox_full";
    case 500:
    case 501:
    case 502:
    case 503:
    case 504:
      return "protocol";
    case 530:
      return "policy";
  }
  return "other";
}

/** The category of one reply: the first of the operator's `rules` that matches, else ours. */
export function classifyReply(
  reply: ReplyToClassify,
  rules?: readonly BounceRule[],
): BounceCategory {
  const { code, text } = reply;
  const operator = matchBounceRule(rules, reply);
  if (operator && isBounceCategory(operator.category)) return operator.category;
  if (code === null) {
    for (const [category, pattern] of LOCAL_RULES) if (pattern.test(text)) return category;
  }
  for (const [category, pattern] of TEXT_RULES) if (pattern.test(text)) return category;
  const status = enhancedStatus(code, text);
  if (status) {
    const category = byEnhancedCode(status);
    if (category) return category;
  }
  if (code !== null) return byBasicCode(code);
  return "other";
}

/**
 * Fills in the category of every result that is not delivered and has none yet (`rules`: the
 * operator's, see {@link classifyReply}).
 */
export function classifyOutcome(
  outcome: UnitOutcome,
  rules?: readonly BounceRule[],
): UnitOutcome {
  let changed = false;
  const results = outcome.results.map((r): RecipientResult => {
    if (r.outcome === "delivered" || r.category) return r;
    changed = true;
    return { ...r, category: classifyReply({ code: r.code, text: r.reply }, rules) };
  });
  return changed ? { ...outcome, results } : outcome;
}
