/** Formatting shared by the console pages. */

/** A time as "2026-11-25 23:59:04 UTC" (the console shows every time in UTC, and says so). */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").slice(0, 19) + " UTC";
}
