/**
 * When and how `serve` stops. A stop begins on SIGINT or SIGTERM, or when the `deno task`/npx
 * launcher is gone (launcher_watch.ts). The stop itself is bounded by `shutdown_timeout`: past
 * it the process exits, and units still in flight stay leased, to be re-queued at the next start
 * (nothing accepted is lost; a delivery cut short may be sent again: at-least-once).
 */
import { log } from "../core/log.ts";
import { revokeUnneeded, watchLaunchers } from "./launcher_watch.ts";

/** Resolves with what asked for the stop; call first thing in `serve`. */
export function stopRequested(): Promise<string> {
  const { promise, resolve } = Promise.withResolvers<string>();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => resolve(signal));
  }
  const stopWatching = watchLaunchers((why) => resolve(why));
  revokeUnneeded(); // after the launchers' /proc handles are open (see launcher_watch.ts)
  return promise.finally(stopWatching);
}

/**
 * Runs `stop` (the services' stop in reverse order) within `timeoutMs`; exits the process with 1
 * if it takes longer, saying how many units were still `inFlight()`.
 */
export async function stopWithin(
  timeoutMs: number,
  stop: () => Promise<void>,
  inFlight: () => number,
): Promise<void> {
  const overrun = setTimeout(() => {
    log(
      "serve",
      `shutdown_timeout (${timeoutMs} ms) passed: exiting; ${inFlight()} units still in flight ` +
        `stay leased and are re-queued at the next start`,
    );
    Deno.exit(1);
  }, timeoutMs);
  try {
    await stop();
  } finally {
    clearTimeout(overrun);
  }
}
