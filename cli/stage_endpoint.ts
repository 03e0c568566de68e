/**
 * The supervisor's end of a stage: a Web Worker, or a stage running in the main isolate behind an
 * endpoint with the same surface (workers/_stage.ts: a MessageChannel to the stage, its reports
 * handed back uncloned), so cli/supervisor.ts drives both the same way: init, units, config, stop;
 * ready, settled, stopped.
 *
 * A stage in the main isolate cannot be thrown away the way `Worker.terminate()` throws away a
 * crashed worker: its timers, sockets and half-done work share the isolate with the scheduler.
 * So a failure of its message handling, or any error nothing caught in this isolate once
 * delivery runs here ({@link exitOnUncaughtError}), ends the process with exit code 70
 * (crash-only, as after kill -9: nothing accepted is lost, and the next start puts the units this
 * node had leased back in the queue at once) and the service manager restarts the node. That is
 * the trade-off `delivery.isolate: main` makes for one isolate less.
 */
import { flushLog, logAt } from "../core/log.ts";
import type { FromWorker, ToWorker } from "../workers/protocol.ts";
import type { Stage, StagePort } from "../workers/_stage.ts";

/** What cli/supervisor.ts needs of a running stage (a `Worker` has exactly this). */
export interface StageEndpoint {
  postMessage(message: ToWorker): void;
  onmessage: ((event: MessageEvent<FromWorker>) => void) | null;
  onerror: ((event: ErrorEvent) => void) | null;
  terminate(): void;
}

/** Exit code of a node whose in-process stage failed (EX_SOFTWARE). */
export const STAGE_CRASH_EXIT_CODE = 70;

/** What a failed in-process stage does by default: log and end the process. */
export function exitOnStageCrash(name: string, error: unknown): void {
  exitAfter(`${name} crashed in the main isolate`, error);
}

function exitAfter(what: string, error: unknown): never {
  const reason = error instanceof Error ? error.stack ?? error.message : String(error);
  logAt("error", "supervisor", `${what}, exiting so the node is restarted: ${reason}`);
  flushLog();
  Deno.exit(STAGE_CRASH_EXIT_CODE);
}

let guarded = false;

/**
 * Once a stage runs in the main isolate, an error nothing caught there (a delivery socket's or
 * timer's, outside the stage's message handlers) may come from it and leave it half done: it is
 * logged like a stage crash and ends the process with {@link STAGE_CRASH_EXIT_CODE}, where the
 * runtime would print it to stderr and exit 1.
 */
export function exitOnUncaughtError(): void {
  if (guarded) return;
  guarded = true;
  globalThis.addEventListener("error", (event) => {
    event.preventDefault();
    exitAfter(
      "uncaught error in the main isolate (a stage runs in it)",
      event.error ?? event.message,
    );
  });
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    exitAfter("unhandled rejection in the main isolate (a stage runs in it)", event.reason);
  });
}

/**
 * Starts `stage` in this isolate as `name`; `onCrash` (default: {@link exitOnStageCrash}) is
 * called when one of its message handlers throws or rejects.
 */
export function inProcessStage(
  stage: Stage,
  name: string,
  onCrash: (name: string, error: unknown) => void = exitOnStageCrash,
): StageEndpoint {
  const { port1, port2 } = new MessageChannel();
  let open = true;
  const endpoint: StageEndpoint = {
    postMessage: (message) => port1.postMessage(message),
    onmessage: null,
    onerror: null,
    terminate: () => {
      open = false;
      port1.close();
      port2.close();
    },
  };
  // What the stage reports (settled leases, log lines, counts) is built for the supervisor and
  // never touched again: it is handed over as it is, in order, once the stage's current task
  // is done, without a port's structured clone. What goes to the stage (units, config) is still
  // cloned: the scheduler keeps its own copies of the units it hands over.
  let reports: FromWorker[] = [];
  const deliver = () => {
    const batch = reports;
    reports = [];
    for (const data of batch) if (open) endpoint.onmessage?.({ data } as MessageEvent<FromWorker>);
  };
  const port: StagePort = {
    postMessage: (message) => {
      if (open && reports.push(message) === 1) queueMicrotask(deliver);
    },
    onmessage: null,
  };
  const crashed = (error: unknown) => onCrash(name, error);
  port2.onmessage = (event: MessageEvent<ToWorker>) => {
    try {
      const result = port.onmessage?.(event);
      if (result instanceof Promise) result.catch(crashed);
    } catch (error) {
      crashed(error);
    }
  };
  // The node's event hub and metrics registry are this isolate's: nothing to start or pump.
  stage(port, { startEvents: () => null, flushMetrics: () => {} });
  return endpoint;
}
