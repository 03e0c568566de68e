/**
 * Starts and watches Web Workers. A worker that crashes after start-up is logged and restarted
 * (crash-only: its leases expire or are released, so nothing it held is lost).
 */
import type { Config } from "../core/config/mod.ts";
import { log } from "../core/log.ts";
import type { FromWorker, ToWorker } from "../workers/protocol.ts";

/** One supervised worker slot. */
export interface WorkerHandle {
  kind: string;
  index: number;
  post(message: ToWorker): void;
  stop(): Promise<void>;
}

/** Handlers for what a worker reports. */
export type OnMessage = (message: FromWorker, handle: WorkerHandle) => void;

/** Extra fields of a worker's init message (e.g. shared counters for delivery workers). */
export type InitExtras = Omit<Extract<ToWorker, { type: "init" }>, "type" | "config" | "index">;

/**
 * Starts a worker module and resolves once it reports `ready`; rejects with its `fatal` error
 * during start-up. Later crashes restart it with the same init message.
 */
export function startWorker(
  kind: string,
  url: URL,
  config: Config,
  index: number,
  onMessage: OnMessage,
  extras: InitExtras = {},
): Promise<WorkerHandle> {
  let worker: Worker;
  let stopping = false;
  let started = false;
  let stopped: (() => void) | null = null;

  return new Promise((resolve, reject) => {
    const handle: WorkerHandle = {
      kind,
      index,
      post: (message) => worker.postMessage(message),
      stop: () =>
        new Promise<void>((done) => {
          stopping = true;
          const timer = setTimeout(() => {
            worker.terminate();
            done();
          }, 15_000);
          stopped = () => {
            clearTimeout(timer);
            worker.terminate();
            done();
          };
          worker.postMessage({ type: "stop" } satisfies ToWorker);
        }),
    };

    const spawn = () => {
      worker = new Worker(url, { type: "module", name: `${kind}-${index}` });
      worker.onmessage = (event: MessageEvent<FromWorker>) => {
        const message = event.data;
        if (message.type === "ready") {
          if (!started) {
            started = true;
            resolve(handle);
          } else {
            log("supervisor", `${kind}-${index} restarted`);
          }
        } else if (message.type === "fatal") {
          if (!started) reject(new Error(message.error));
          else log("supervisor", `${kind}-${index} failed: ${message.error}`);
        } else if (message.type === "log") {
          log(`${kind}-${index}`, message.line);
        } else if (message.type === "stopped") {
          stopped?.();
        }
        onMessage(message, handle);
      };
      worker.onerror = (event) => {
        event.preventDefault();
        log("supervisor", `${kind}-${index} crashed: ${event.message}`);
        worker.terminate();
        if (!started) {
          reject(new Error(`${kind} worker crashed during start-up: ${event.message}`));
          return;
        }
        if (!stopping) setTimeout(spawn, 500);
      };
      worker.postMessage({ ...extras, type: "init", config, index } satisfies ToWorker);
    };
    spawn();
  });
}
