/**
 * Waiting primitives for tests. Prefer event-driven waits (e.g. the SMTP
 * sink's `waitForMessages`); use {@link waitUntil} only where the condition can
 * only be observed by polling (a database row, an HTTP endpoint).
 *
 * @module
 */

/**
 * Resolves after `ms` milliseconds. Rejects early (and clears its timer) if
 * `signal` aborts. Meant as a polling interval, never as a "wait and hope".
 */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Options for {@link waitUntil}. */
export interface WaitUntilOptions {
  /** Give up after this many milliseconds (default 20 000). */
  timeoutMs?: number;
  /** Poll interval in milliseconds (default 20). */
  intervalMs?: number;
  /** Included in the timeout error to say what was awaited. */
  message?: string;
}

/**
 * Polls `condition` until it returns a truthy value and resolves with that
 * value. Exceptions thrown by `condition` count as "not yet" (the last one is
 * reported on timeout). Rejects with a clear error after `timeoutMs`.
 */
export async function waitUntil<T>(
  condition: () => T | Promise<T>,
  opts: WaitUntilOptions = {},
): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const intervalMs = opts.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (true) {
    try {
      const value = await condition();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const what = opts.message ?? "condition";
      const cause = lastError === undefined
        ? ""
        : ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`;
      throw new Error(`waitUntil: ${what} not met within ${timeoutMs} ms${cause}`);
    }
    await delay(intervalMs);
  }
}

/** Races a promise against a timeout (the program's own helper, re-exported for tests). */
export { withTimeout } from "../../core/timeout.ts";
