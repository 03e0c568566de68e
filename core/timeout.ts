/** A bound on how long to wait for a promise. */

/**
 * Races `promise` against a timeout: rejects with `Error(message)` if it does not settle within
 * `timeoutMs`. The timer is always cleared, so nothing keeps the process alive after.
 */
export function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number,
  message = `timed out after ${timeoutMs} ms`,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
