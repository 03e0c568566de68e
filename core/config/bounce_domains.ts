/**
 * The bounce/feedback domains this server takes mail for itself, apart from the zod schema of
 * bounce_schema.ts so that a worker reading them (core/bounce/policy.ts) does not load zod.
 */

/** The part of the `bounce` section the domains come from. */
export interface BounceDomainKeys {
  domains: readonly string[];
  verp: { domain?: string | undefined };
}

/** The bounce/feedback domains this server takes mail for itself (the VERP domain included). */
export function bounceDomains(bounce: BounceDomainKeys): Set<string> {
  const domains = new Set(bounce.domains);
  if (bounce.verp.domain) domains.add(bounce.verp.domain);
  return domains;
}
