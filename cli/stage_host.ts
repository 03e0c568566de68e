/**
 * The main thread's side of a stages worker (workers/stages_worker.ts): one Web Worker that runs
 * several stages, each behind a MessageChannel with the surface of a Worker (StageEndpoint), so
 * cli/supervisor.ts drives each stage as if it had a worker of its own. When the worker crashes,
 * every stage in it sees the crash; each one's supervisor restarts it, and the first to come back
 * starts a new worker that the others join.
 */
import { mergeWorkerMetrics } from "../core/metrics/mod.ts";
import type { FromWorker } from "../workers/protocol.ts";
import type { StageEndpoint } from "./stage_endpoint.ts";

/** The stages a stages worker runs. */
export type HostedStage = "smtp" | "delivery";

/** One shared worker, started on the first `open`. */
export class StageHost {
  #worker: Worker | null = null;
  #open = new Set<StageEndpoint>();

  /**
   * `onMessage` gets what the worker itself posts (its event batches); `url` is the worker
   * module (tests give a stand-in).
   */
  constructor(
    readonly name: string,
    readonly onMessage: (message: FromWorker) => void,
    readonly url: URL = new URL("../workers/stages_worker.ts", import.meta.url),
  ) {}

  #spawn(): Worker {
    const worker = new Worker(this.url, { type: "module", name: this.name });
    worker.onmessage = (event: MessageEvent<FromWorker>) => {
      const message = event.data;
      if (message.type === "metrics") mergeWorkerMetrics(message.delta);
      else this.onMessage(message);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      worker.terminate();
      if (this.#worker === worker) this.#worker = null;
      for (const endpoint of [...this.#open]) endpoint.onerror?.(event);
    };
    return worker;
  }

  /** Starts `stage` in the worker (starting the worker if there is none). */
  open(stage: HostedStage): StageEndpoint {
    const worker = this.#worker ??= this.#spawn();
    const { port1, port2 } = new MessageChannel();
    worker.postMessage({ stage }, [port2]);
    const endpoint: StageEndpoint = {
      postMessage: (message) => port1.postMessage(message),
      onmessage: null,
      onerror: null,
      terminate: () => {
        port1.close();
        this.#open.delete(endpoint);
        // The last stage gone (stopped or crashed): the worker goes too.
        if (this.#open.size === 0 && this.#worker === worker) {
          worker.terminate();
          this.#worker = null;
        }
      },
    };
    port1.onmessage = (event: MessageEvent<FromWorker>) => endpoint.onmessage?.(event);
    this.#open.add(endpoint);
    return endpoint;
  }
}
