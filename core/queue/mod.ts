/**
 * The queue between accept and delivery, behind one interface with two implementations:
 * - `embedded` (default, one node): the SQL store's lease queue (`queue.due_at` is both the next
 *   attempt and the lease expiry);
 * - `rabbitmq` (when `rabbitmq` is configured, any number of nodes): units travel through
 *   RabbitMQ work and delay queues; bodies, recipients and the delivery log stay in the shared
 *   SQL database.
 * Nothing above this folder knows which one runs. Each thread opens its own instance with the
 * role it plays (accept: enqueue; schedule: lease/release; deliver: settle).
 */
import type { Config } from "../config/mod.ts";
import type { BrokerUnitStore, QuarantineStore, UnitStore } from "../store/mod.ts";
import { EmbeddedQueue } from "./embedded.ts";
import type { OpenQueueOptions, Queue } from "./queue.ts";
import { brokerSettings } from "./settings.ts";

export { BrokerUnavailableError } from "./settings.ts";

export type { OpenQueueOptions, Queue, QueueRole } from "./queue.ts";

/**
 * Opens this thread's queue on an open store: RabbitMQ when `rabbitmq` is configured, the
 * embedded queue otherwise. The store stays the caller's to close.
 */
export async function openQueue(
  config: Config,
  store: UnitStore & BrokerUnitStore & { readonly quarantine: QuarantineStore },
  options: OpenQueueOptions,
): Promise<Queue> {
  const settings = brokerSettings(config);
  if (!settings) return new EmbeddedQueue(config, store);
  const { RabbitQueue } = await import("./rabbitmq.ts");
  const queue = new RabbitQueue(config, store, settings, options);
  await queue.start();
  return queue;
}
