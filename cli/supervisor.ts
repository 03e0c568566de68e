/**
 * Starts and watches stages: Web Workers, stages sharing one worker (cli/stage_host.ts) or a
 * stage in the main isolate (cli/stage_endpoint.ts), all through the same messages. A worker
 * that crashes after start-up is logged and restarted (crash-only: `onCrash` lets the caller
 * return what the worker held; messages posted until the new worker exists wait for it, so none
 * is posted to the dead one); an in-process stage that fails ends the process instead.
 */
import type { Config } from "../core/config/mod.ts";
import { levelOf, log, logAt } from "../core/log.ts";
import { mergeWorkerMetrics, metrics } from "../core/metrics/mod.ts";
import type { FromWorker, ToWorker } from "../workers/protocol.ts";
import type { Stage } from "../workers/_stage.ts";
import { inProcessStage, type StageEndpoint } from "./stage_endpoint.ts";
import type { HostedStage, StageHost } from "./stage_host.ts";

/** One supervised worker slot. */
export interface WorkerHandle {
  kind: string;
  index: number;
  post(message: ToWorker): void;
  /**
   * Asks the worker to finish and leave; terminated after `graceMs` (default 15 s) if it has
   * not. The worker is told to finish its in-flight work within most of that time.
   */
  stop(graceMs?: number): Promise<void>;
  /** Running and ready (false between a crash and the restarted worker's `ready`). */
  alive(): boolean;
}

/** Handlers for what a worker reports. */
export type OnMessage = (message: FromWorker, handle: WorkerHandle) => void;

/** Extra fields of a worker's init message (e.g. shared counters for delivery workers). */
export type InitExtras = Omit<Extract<ToWorker, { type: "init" }>, "type" | "config" | "index">;

/**
 * Where a stage runs: the URL of its worker module (a Web Worker of its own), the stage itself,
 * run in this isolate (cli/stage_endpoint.ts: a crash there ends the process), or a stage of a
 * worker shared with other stages (cli/stage_host.ts).
 */
export type StagePlacement = URL | { inProcess: Stage } | { host: StageHost; stage: HostedStage };

/**
 * Starts a worker module (or an in-process stage) and resolves once it reports `ready`; rejects
 * with its `fatal` error during start-up. Later crashes of a worker restart it with the same init
 * message.
 */
export function startWorker(
  kind: string,
  where: StagePlacement,
  config: Config,
  index: number,
  onMessage: OnMessage,
  extras: InitExtras = {},
  onCrash: (handle: WorkerHandle) => void = () => {},
): Promise<WorkerHandle> {
  let worker: StageEndpoint | null = null;
  // Posted between a crash and the restart: handed to the new worker after its init.
  const waiting: ToWorker[] = [];
  let stopping = false;
  let started = false;
  let stopped: (() => void) | null = null;
  let up = false;
  // Which start of this slot: 0, then one more per restart (in the init message).
  let generation = -1;
  metrics.inc("fastmta_worker_restarts_total", { kind }, 0); // the series exists from the start

  return new Promise((resolve, reject) => {
    const handle: WorkerHandle = {
      kind,
      index,
      alive: () => up && worker !== null,
      post: (message) => {
        if (worker) worker.postMessage(message);
        else waiting.push(message);
      },
      stop: (graceMs = 15_000) =>
        new Promise<void>((done) => {
          stopping = true;
          if (!worker) return done(); // crashed, not restarted
          const current = worker;
          const timer = setTimeout(() => {
            current.terminate();
            done();
          }, graceMs);
          stopped = () => {
            clearTimeout(timer);
            current.terminate();
            done();
          };
          // What is left after draining (settle, close) needs a moment of the grace too.
          const drainMs = Math.max(0, graceMs - Math.min(2_000, graceMs / 4));
          current.postMessage({ type: "stop", drainMs } satisfies ToWorker);
        }),
    };

    const spawn = () => {
      const name = `${kind}-${index}`;
      generation++;
      const current: StageEndpoint = where instanceof URL
        ? new Worker(where, { type: "module", name })
        : "host" in where
        ? where.host.open(where.stage)
        : inProcessStage(where.inProcess, name);
      worker = current;
      current.onmessage = (event: MessageEvent<FromWorker>) => {
        const message = event.data;
        if (message.type === "ready") {
          up = true;
          if (!started) {
            started = true;
            resolve(handle);
          } else {
            metrics.inc("fastmta_worker_restarts_total", { kind });
            log("supervisor", `${kind}-${index} restarted`);
          }
        } else if (message.type === "fatal") {
          if (!started) reject(new Error(message.error));
          else log("supervisor", `${kind}-${index} failed: ${message.error}`);
        } else if (message.type === "log") {
          const level = message.level ?? levelOf(message.line);
          logAt(level, `${kind}-${index}`, message.line, message.fields);
        } else if (message.type === "logs") {
          for (const r of message.records) logAt(r.level, `${kind}-${index}`, r.line, r.fields);
        } else if (message.type === "metrics") {
          mergeWorkerMetrics(message.delta);
        } else if (message.type === "stopped") {
          stopped?.();
        }
        onMessage(message, handle);
      };
      current.onerror = (event) => {
        event.preventDefault();
        logAt("error", "supervisor", `${kind}-${index} crashed: ${event.message}`);
        current.terminate();
        up = false;
        if (worker === current) worker = null;
        if (!started) {
          reject(new Error(`${kind} worker crashed during start-up: ${event.message}`));
          return;
        }
        onCrash(handle);
        if (!stopping) setTimeout(spawn, 500);
      };
      current.postMessage(
        { ...extras, type: "init", config, index, generation } satisfies ToWorker,
      );
      for (const message of waiting.splice(0)) current.postMessage(message);
    };
    spawn();
  });
}
