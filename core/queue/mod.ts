/**
 * The queue between accept and delivery, behind one interface with two implementations:
 * - `embedded` (default, one node): the SQL store's lease queue (`queue.due_at` is both the next
 *   attempt and the lease expiry);
 * - `rabbitmq` (when `rabbitmq` is configured, any number of nodes): units travel through
 *   RabbitMQ work and delay queues; bodies, recipients and the delivery log stay in the shared
 *   SQL database.
 * Nothing above this folder knows which one runs. Each thread opens its own instance with the
 * role it plays, typed to that role's methods ({@link QueueFor}): accept enqueues, schedule
 * leases and releases, deliver settles.
 */
import type { Config } from "../config/mod.ts";
import type { BrokerUnitStore, QuarantineStore, QueueOpsStore, UnitStore } from "../store/mod.ts";
import { EmbeddedQueue } from "./embedded.ts";
import type { OpenQueueOptions, QueueFor, QueueRole } from "./queue.ts";
import { brokerSettings } from "./settings.ts";

export { BrokerUnavailableError } from "./settings.ts";

export type {
  AcceptQueue,
  DeliverQueue,
  EnqueueOptions,
  OpenQueueOptions,
  OperateQueue,
  Queue,
  QueueBase,
  QueueFor,
  QueueRole,
  QueueRoles,
  ScheduleQueue,
} from "./queue.ts";

/**
 * Opens this thread's queue on an open store: RabbitMQ when `rabbitmq` is configured, the
 * embedded queue otherwise. The store stays the caller's to close.
 */
export async function openQueue<R extends QueueRole>(
  config: Config,
  store: UnitStore & BrokerUnitStore & QueueOpsStore & { readonly quarantine: QuarantineStore },
  options: OpenQueueOptions<R>,
): Promise<QueueFor<R>> {
  const settings = brokerSettings(config);
  if (!settings) return new EmbeddedQueue(config, store, options.log);
  const { openRabbitQueue } = await import("./rabbitmq.ts");
  return await openRabbitQueue(config, store, settings, options);
}
