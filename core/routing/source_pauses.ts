/**
 * Pauses the delivery workers apply after routing (issue 14). A vmta pause (source IP or its
 * hostname, optionally narrowed by domain, tag and site) makes every pool skip that source for
 * the units it matches; when every source a unit's pool could use is paused, the unit is held
 * naming the pause. A site pause (an MX host of the destination site, or `*.domain`; a site is
 * known only after the MX lookup) holds the units routed to that site before any connection. The main thread sends the pauses in force to the delivery workers
 * (cli/serve_queue.ts, on every change); the scheduler holds the rest before any lookup
 * (core/schedule/pauses.ts).
 */

/** A vmta pause as the delivery workers get it. */
export interface SourcePause {
  id: string;
  /** The vmta: its IP or hostname (null: a site pause). */
  source: string | null;
  /** An MX host of the destination site, or *.domain (null: any site). */
  site?: string | null;
  /** The pool (a site pause narrowed to one pool), or null. */
  pool?: string | null;
  domain: string | null;
  tag: string | null;
  /** When it ends by itself (ms), or null. */
  endsAt: number | null;
  /** "vmta 127.0.0.10, domain example.net: incident" */
  why: string;
}

/**
 * The start of the last reply of every unit pause `id` holds on `node`. Each node releases only
 * the units it held itself (core/schedule/pauses.ts): two nodes releasing one unit would each
 * publish its next copy with the same number (RabbitMQ), and both would be delivered.
 */
export function heldByPrefix(id: string, node: string): string {
  return `held by pause ${id} on ${node} `;
}

/** The tag a unit's message carries: `meta.tag`, else its metadata's `tag`. */
export function unitTagOf(meta: Record<string, unknown> | null | undefined): string | null {
  const metadata = meta?.metadata as Record<string, unknown> | null | undefined;
  const tag = meta?.tag ?? metadata?.tag;
  return typeof tag === "string" ? tag : null;
}

/** Whether `pattern` (a domain, or `*.domain` for its subdomains) matches `domain`. */
export function domainMatches(pattern: string, domain: string): boolean {
  const p = pattern.toLowerCase();
  return p.startsWith("*.") ? domain.endsWith(p.slice(1)) : domain === p;
}

/** A unit as the pauses see it after routing: its domain, tag and site (MX host names). */
export interface RoutedUnit {
  domain: string;
  tag: string | null;
  /** The site key (MX host names joined by ","; a route's "route:host:port"; the domain). */
  site: string;
  pool: string;
}

/** Whether `pattern` (an MX host, or *.domain) matches a host of `site`. */
export function siteMatches(pattern: string, site: string): boolean {
  const hosts = site.toLowerCase().replace(/^route:/, "").replace(/:\d+$/, "").split(",");
  return hosts.some((host) => domainMatches(pattern, host));
}

/** Whether `p` is in force and its destination criteria (domain, tag, site, pool) match. */
function matches(p: SourcePause, unit: RoutedUnit, now: number): boolean {
  if (p.endsAt !== null && p.endsAt <= now) return false;
  if (p.domain !== null && !domainMatches(p.domain, unit.domain)) return false;
  if (p.tag !== null && p.tag !== unit.tag) return false;
  if (p.site && !siteMatches(p.site, unit.site)) return false;
  if (p.pool && p.pool !== unit.pool) return false;
  return true;
}

/** The vmta pause in force at `now` that holds `source` for `unit`, or null. */
export function sourcePauseFor(
  pauses: readonly SourcePause[],
  source: { ip: string | null; hostname: string },
  unit: RoutedUnit,
  now: number,
): SourcePause | null {
  for (const p of pauses) {
    if (p.source === null || (p.source !== source.ip && p.source !== source.hostname)) continue;
    if (matches(p, unit, now)) return p;
  }
  return null;
}

/** The site pause (no vmta named) in force at `now` that holds `unit`, or null. */
export function sitePauseFor(
  pauses: readonly SourcePause[],
  unit: RoutedUnit,
  now: number,
): SourcePause | null {
  for (const p of pauses) {
    if (p.source !== null || !p.site) continue;
    if (matches(p, unit, now)) return p;
  }
  return null;
}
