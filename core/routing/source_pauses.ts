/**
 * Vmta pauses at source selection (issue 14): a stored pause naming a vmta (source IP or its
 * hostname), optionally narrowed by destination domain and tag, makes every pool skip that
 * source for the units it matches; when every source a unit's pool could use is paused, the unit
 * is held naming the pause. The main thread sends the pauses in force to the delivery workers
 * (cli/serve_queue.ts, on every change); the scheduler holds the rest before any lookup
 * (core/schedule/pauses.ts).
 */

/** A vmta pause as the delivery workers get it. */
export interface SourcePause {
  id: string;
  /** The vmta: its IP or hostname. */
  source: string;
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

/** The pause in force at `now` that holds `source` for a unit to `domain` with `tag`, or null. */
export function sourcePauseFor(
  pauses: readonly SourcePause[],
  source: { ip: string | null; hostname: string },
  unit: { domain: string; tag: string | null },
  now: number,
): SourcePause | null {
  for (const p of pauses) {
    if (p.endsAt !== null && p.endsAt <= now) continue;
    if (p.source !== source.ip && p.source !== source.hostname) continue;
    if (p.domain !== null && !domainMatches(p.domain, unit.domain)) continue;
    if (p.tag !== null && p.tag !== unit.tag) continue;
    return p;
  }
  return null;
}
