/**
 * Retry delays on RabbitMQ. A message's TTL only expires at the head of its queue, so each delay
 * tier is its own queue whose messages all share one TTL (FIFO order = expiry order); an expired
 * message dead-letters back to the work exchange. A delay that is no tier is made of several
 * parkings: each time a unit comes back early the scheduler parks it again for the rest.
 *
 * Bound: a unit is never attempted before its due time; it is late by at most
 * `max(smallest tier, 1 % of the remaining delay)` plus the broker's dead-lettering latency per
 * parking (tens of milliseconds here).
 */

/** The tiers to declare: the configured ones plus every retry delay they can hold exactly. */
export function delayTiers(configured: number[], retrySchedule: number[]): number[] {
  const longest = Math.max(...configured);
  const tiers = new Set(configured.filter((t) => t > 0));
  for (const delay of retrySchedule) if (delay > 0 && delay <= longest) tiers.add(delay);
  return [...tiers].sort((a, b) => a - b);
}

/**
 * The tier to park a unit in for `remainingMs` (> 0), from tiers sorted ascending: the shortest
 * tier that is not early and overshoots by at most the tolerance, else the longest tier that is
 * not longer than the rest, else the shortest tier (which is then late by less than itself).
 */
export function pickTier(tiers: number[], remainingMs: number): number {
  const tolerance = Math.max(tiers[0], remainingMs / 100);
  for (const tier of tiers) {
    if (tier >= remainingMs && tier - remainingMs <= tolerance) return tier;
  }
  let best = tiers[0];
  for (const tier of tiers) if (tier <= remainingMs) best = tier;
  return best;
}
