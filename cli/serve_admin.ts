/**
 * What runs on a node's main thread for the outside: the admin HTTP server's context (REST API,
 * console) and the database outbox poller. Parts of `serve`.
 */
import { log } from "../core/log.ts";
import { QueueService } from "../core/manage/queue_service.ts";
import { WebhookService } from "../core/manage/webhooks.ts";
import type { Service } from "./service_runner.ts";
import { adminHttpService, domainServices } from "./serve_parts.ts";
import type { NodeState } from "./serve_types.ts";

/** The admin HTTP server (cli/admin_http.ts), on the node's parts once they exist. */
export function nodeAdminHttpService(node: NodeState): Service {
  return adminHttpService(async () => ({
    config: node.config,
    store: node.store,
    auth: node.auth,
    startedAt: node.startedAt,
    cluster: node.cluster,
    accept: node.apiAccept,
    queue: node.queue,
    management: node.management,
    domainServices: domainServices(node.store, node.config),
    queueOps: new QueueService(node.store, node.config, (line) => log("api", line)),
    readiness: node.readiness,
    // One-click unsubscribe links (bounce.unsubscribe) on the cluster's token key. Its own file,
    // which loads no mailparser (~5 MB of heap; tests/lazy_imports_test.ts).
    unsubscribe: await (await import("../core/bounce/unsubscribe.ts"))
      .openUnsubscribe(node.store, node.config, (line) => log("bounce", line)),
    webhooks: new WebhookService(node.store, node.config),
  }));
}

/** The database outbox polls on this thread through its own accept path; loaded only when on. */
export function outboxService(node: NodeState): Service {
  let outbox: { stop(): Promise<void> } | null = null;
  return {
    name: "outbox",
    start: async () => {
      if (!node.config.outbox.enabled) return;
      const { startOutboxPoller } = await import("../core/inbound/outbox.ts");
      outbox = await startOutboxPoller(node.config, {
        log: (line) => log("outbox", line),
        onCommitted: () => node.scheduler.wake(),
      });
    },
    stop: () => outbox?.stop(),
  };
}
