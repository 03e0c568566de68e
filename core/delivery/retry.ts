/**
 * When to try again. A deferred unit is due after the schedule's delay for its attempt number
 * (the last delay repeats); past `delivery.max_age` it is failed instead (give-up).
 */

/** Milliseconds until the next attempt after attempt number `attempts` (1-based). */
export function retryDelay(schedule: number[], attempts: number): number {
  return schedule[Math.min(Math.max(attempts, 1), schedule.length) - 1];
}

/** The next attempt time, or null when the message is too old to retry (give up). */
export function nextAttemptAt(
  options: { schedule: number[]; maxAge: number },
  unit: { attempts: number; createdAt: number },
  now: number,
): number | null {
  const at = now + retryDelay(options.schedule, unit.attempts);
  return at - unit.createdAt > options.maxAge ? null : at;
}
