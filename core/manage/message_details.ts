/**
 * What the console's message page adds to a message's status: its header section (read from
 * the first HEAD_BYTES of the stored body, so a large message never loads whole), who signs it
 * with DKIM (DKIM-Signature headers already in it, and the keys fastmta signs its From domain
 * with at send time), and the delivery rule in force for each of its domains (how many attempts
 * the retry schedule fits in max_age; the cluster and local limits a held unit waits for).
 *
 * The header split is written here rather than taken from mailparser or mailauth: those parse
 * a whole MIME tree or load ~8 MB of helpers, and a header section is split on unfolded lines.
 */
import { fromDomain } from "../dkim/mod.ts";
import { type CheckedRule, type EffectiveRule, ShapingPolicy } from "../routing/policy.ts";
import { checkStoredRules } from "../routing/rule_check.ts";
import type { Config } from "../config/mod.ts";
import type { BodyStore, DkimKeyStore } from "../store/mod.ts";

/** The most of a body read for its headers. */
export const HEAD_BYTES = 64 * 1024;
/** The most header fields shown, and the longest value (the rest is cut, and said so). */
const MAX_FIELDS = 200;
const MAX_VALUE = 2_000;

/** One header field as it stands in the message (unfolded). */
export interface HeaderField {
  name: string;
  value: string;
}

/** A DKIM signature: in the message already, or the one fastmta adds at send time. */
export interface DkimSigner {
  domain: string;
  selector: string;
  algorithm: string;
  source: "message" | "at_send";
}

/** The rule's numbers the page shows for one destination domain. */
export interface DomainRule {
  /** Attempts the retry schedule fits in max_age (the first one included). */
  maxAttempts: number;
  maxConnections: number;
  clusterMaxConnections: number | null;
  clusterMessageRate: { count: number; per: number } | null;
  messageRates: { count: number; per: number }[];
}

/** The header section, DKIM signers and rules of one message. */
export interface MessageDetails {
  headers: HeaderField[];
  /** The header section was longer than what is shown. */
  truncated: boolean;
  fromDomain: string | null;
  dkim: DkimSigner[];
  rules: Record<string, DomainRule>;
}

/** The header section of `head` (bytes from the start of a message), unfolded. */
export function parseHeaderSection(
  head: Uint8Array,
): { fields: HeaderField[]; truncated: boolean } {
  let text = "";
  for (let i = 0; i < head.length; i++) text += String.fromCharCode(head[i]); // latin1
  const end = text.search(/\r?\n\r?\n/);
  let truncated = end < 0 && head.length >= HEAD_BYTES;
  const section = end < 0 ? text : text.slice(0, end);
  const fields: HeaderField[] = [];
  for (const line of section.replace(/\r?\n(?=[ \t])/g, "").split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    if (fields.length === MAX_FIELDS) {
      truncated = true;
      break;
    }
    let value = line.slice(colon + 1).trim();
    if (value.length > MAX_VALUE) value = value.slice(0, MAX_VALUE) + " …";
    fields.push({ name: line.slice(0, colon).trim(), value: decodeUtf8(value) });
  }
  return { fields, truncated };
}

function decodeUtf8(latin1: string): string {
  const bytes = Uint8Array.from(latin1, (c) => c.charCodeAt(0));
  return new TextDecoder("utf-8", { fatal: false }).decode(bytes);
}

/** The d=, s= and a= tags of a DKIM-Signature value. */
export function dkimTags(value: string): { domain: string; selector: string; algorithm: string } {
  const tags = new Map<string, string>();
  for (const part of value.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0) tags.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  return {
    domain: tags.get("d") ?? "?",
    selector: tags.get("s") ?? "?",
    algorithm: tags.get("a") ?? "?",
  };
}

/** Attempts that fit in `maxAge` when retries wait `schedule` (its last delay repeats). */
export function attemptsWithin(schedule: readonly number[], maxAge: number): number {
  let attempts = 1;
  let elapsed = 0;
  for (let i = 0; attempts < 10_000; i++) {
    elapsed += schedule[Math.min(i, schedule.length - 1)];
    if (elapsed > maxAge) break;
    attempts++;
  }
  return attempts;
}

function ruleOf(rule: EffectiveRule): DomainRule {
  return {
    maxAttempts: attemptsWithin(rule.retrySchedule, rule.maxAge),
    maxConnections: rule.maxConnections,
    clusterMaxConnections: rule.clusterMaxConnections,
    clusterMessageRate: rule.clusterMessageRate,
    messageRates: rule.messageRates,
  };
}

/** What `messageDetails` reads. */
export interface MessageDetailsSources {
  config: Config;
  store: Pick<BodyStore, "readBodyHead"> & Partial<Pick<DkimKeyStore, "dkimKeys">>;
  /** The stored shaping rules (the management plane's shaping_rule objects). */
  shapingRules?: () => Promise<{ pattern: string; rule: unknown }[]>;
}

/** The header section, DKIM signers and the rules for `domains` of message `id`. */
export async function messageDetails(
  sources: MessageDetailsSources,
  id: string,
  domains: string[],
): Promise<MessageDetails | null> {
  const read = await sources.store.readBodyHead(id, HEAD_BYTES);
  if (!read) return null;
  const { fields, truncated } = parseHeaderSection(read.head);
  const dkim: DkimSigner[] = fields
    .filter((f) => f.name.toLowerCase() === "dkim-signature")
    .map((f) => ({ ...dkimTags(f.value), source: "message" as const }));
  const from = fromDomain(read.head);
  if (from && sources.store.dkimKeys) {
    // As the signer picks them: the From domain, else its nearest parent with keys.
    const keys = (await sources.store.dkimKeys()).filter((k) => !k.retiredAt);
    const labels = from.split(".");
    for (let i = 0; i < labels.length - 1; i++) {
      const domain = labels.slice(i).join(".");
      const own = keys.filter((k) => k.domain.toLowerCase() === domain);
      if (own.length === 0) continue;
      for (const k of own) {
        dkim.push({ domain, selector: k.selector, algorithm: k.algorithm, source: "at_send" });
      }
      break;
    }
  }
  const stored: CheckedRule[] = sources.shapingRules
    ? checkStoredRules(await sources.shapingRules()).rules
    : [];
  const policy = new ShapingPolicy(sources.config, stored);
  const rules = Object.fromEntries(domains.map((d) => [d, ruleOf(policy.forDestination(d))]));
  return { headers: fields, truncated, fromDomain: from, dkim, rules };
}
