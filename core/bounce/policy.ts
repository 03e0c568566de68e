/**
 * The bounce settings that apply to one message: the file's `bounce.*` keys (the seed), then
 * the `default` bounce policy, then the policy of the message's pool, then the policy of its
 * sending domain; a field a policy leaves out falls through to the wider one. Every stage reads
 * through here at the moment of use (VERP and unsubscribe links at send, bounce domains and
 * tokens at RCPT, delayed DSNs at each sweep), so a policy change applies without a restart.
 *
 * Reads config: bounce.*, bouncePolicies (managed objects).
 */
import type { BouncePolicy, Config } from "../config/mod.ts";
// The zod-free module, not config/mod.ts: this runs in workers that never parse a config file.
import { bounceDomains } from "../config/bounce_domains.ts";

/** The VERP and unsubscribe settings for one message. */
export interface EffectiveBounce {
  verp: { enabled: boolean; domain?: string; prefix: string };
  unsubscribe: { enabled: boolean; base_url?: string };
}

function policyOf(config: Config, scope: BouncePolicy["scope"], name?: string) {
  return config.bouncePolicies.find((p) =>
    p.scope === scope &&
    (scope === "default" || (scope === "pool" ? p.pool === name : p.sending_domain === name))
  );
}

/** The settings for a message from `senderDomain` sent through `pool`. */
export function effectiveBounce(
  config: Config,
  senderDomain: string,
  pool: string,
): EffectiveBounce {
  const file = config.bounce.verp;
  // The file's sender_domains / pools lists narrow its own `enabled`; a policy decides alone.
  const fileApplies = file.enabled &&
    ((file.sender_domains.length === 0 && file.pools.length === 0) ||
      file.sender_domains.includes(senderDomain) || file.pools.includes(pool));
  const verp: EffectiveBounce["verp"] = {
    enabled: fileApplies,
    domain: file.domain,
    prefix: file.prefix,
  };
  const unsubscribe: EffectiveBounce["unsubscribe"] = { ...config.bounce.unsubscribe };
  const chain = [
    policyOf(config, "default"),
    policyOf(config, "pool", pool),
    policyOf(config, "sending_domain", senderDomain.toLowerCase()),
  ];
  for (const policy of chain) {
    if (policy?.verp) {
      verp.enabled = policy.verp.enabled;
      verp.domain = policy.verp.domain ?? verp.domain;
      verp.prefix = policy.verp.prefix ?? verp.prefix;
    }
    if (policy?.unsubscribe) {
      unsubscribe.enabled = policy.unsubscribe.enabled;
      unsubscribe.base_url = policy.unsubscribe.base_url ?? unsubscribe.base_url;
    }
  }
  if (!verp.domain) verp.enabled = false;
  if (!unsubscribe.base_url) unsubscribe.enabled = false;
  return { verp, unsubscribe };
}

/**
 * Every VERP domain a token may arrive at, with its prefix: the file's and each policy's.
 * A policy without a prefix of its own uses the file's.
 */
export function verpDomains(config: Config): Map<string, string> {
  const out = new Map<string, string>();
  const fileVerp = config.bounce.verp;
  if (fileVerp.domain) out.set(fileVerp.domain, fileVerp.prefix);
  const defaultPrefix = policyOf(config, "default")?.verp?.prefix ?? fileVerp.prefix;
  for (const policy of config.bouncePolicies) {
    if (!policy.verp?.domain || out.has(policy.verp.domain)) continue;
    out.set(policy.verp.domain, policy.verp.prefix ?? defaultPrefix);
  }
  return out;
}

/** The bounce/feedback domains this server takes mail for itself (VERP domains included). */
export function acceptedBounceDomains(config: Config): Set<string> {
  const domains = bounceDomains(config.bounce);
  for (const domain of verpDomains(config).keys()) domains.add(domain);
  for (const policy of config.bouncePolicies) {
    for (const domain of policy.domains ?? []) domains.add(domain);
  }
  return domains;
}

/** The delayed-DSN settings: the default policy's, else the file's. */
export function delayNotice(config: Config): { after: number; mode: "requested" | "always" } {
  const own = policyOf(config, "default")?.delay_notice;
  return {
    after: own?.after ?? config.bounce.delay_notice_after,
    mode: own?.mode ?? config.bounce.delay_notice,
  };
}
