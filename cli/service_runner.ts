/**
 * Start-up and shutdown order as data: a node is an ordered list of services, each with a
 * start and a stop. The runner starts them in order and stops the started ones in reverse
 * order (also when a later start fails), so "what starts after what" is written once.
 */

/** One part of a running node. */
export interface Service {
  /** Named in log lines and errors. */
  name: string;
  start?(): Promise<void> | void;
  stop?(): Promise<void> | void;
}

/** Several services started and stopped together (concurrently), as one step. */
export function together(name: string, services: Service[]): Service {
  return {
    name,
    async start() {
      for (const service of services) await service.start?.();
    },
    async stop() {
      await Promise.all(services.map((service) => service.stop?.()));
    },
  };
}

/** Starts services in order and stops them in reverse. */
export class ServiceRunner {
  #started: Service[] = [];
  #log: (line: string) => void;

  constructor(log: (line: string) => void) {
    this.#log = log;
  }

  /** Names of the services started so far, in start order. */
  get started(): string[] {
    return this.#started.map((s) => s.name);
  }

  /**
   * Starts each service in turn. If one fails, those already started are stopped (in reverse)
   * and its error is rethrown as it is (callers map error types to exit codes).
   */
  async start(services: Service[]): Promise<void> {
    for (const service of services) {
      try {
        await service.start?.();
      } catch (error) {
        this.#log(`cannot start ${service.name}: ${(error as Error).message}`);
        await this.stop();
        throw error;
      }
      this.#started.push(service);
    }
  }

  /** Stops the started services in reverse order; a failing stop is logged, the rest go on. */
  async stop(): Promise<void> {
    while (this.#started.length > 0) {
      const service = this.#started.pop()!;
      try {
        await service.stop?.();
      } catch (error) {
        this.#log(`cannot stop ${service.name}: ${(error as Error).message}`);
      }
    }
  }
}
