/** Durations in config are written for people ("5m", "2h"); the program works in milliseconds. */

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * Parses "250ms", "30s", "5m", "2h", "3d" (or a bare number of seconds) into milliseconds.
 * Throws with the offending value quoted when it cannot.
 */
export function parseDuration(value: string | number): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) {
      throw new Error(`Invalid duration "${value}": expected a non-negative number of seconds`);
    }
    return Math.round(value * 1000);
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!match) {
    throw new Error(`Invalid duration "${value}": expected e.g. "30s", "5m", "2h"`);
  }
  return Math.round(Number(match[1]) * UNITS[match[2] ?? "s"]);
}

/** Writes milliseconds in the largest unit that divides them: 90000 → "90s", 300000 → "5m". */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0";
  for (const unit of ["d", "h", "m", "s"]) {
    if (ms % UNITS[unit] === 0) return `${ms / UNITS[unit]}${unit}`;
  }
  return `${ms}ms`;
}
