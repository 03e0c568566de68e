/**
 * `GET /`: the dashboard (live charts, queue counts, the top destinations with their state,
 * nodes with their applied config version).
 */
import { Hono } from "hono";
import type { ClusterView } from "../../core/cluster/mod.ts";
import type { Config } from "../../core/config/mod.ts";
import { nodeDocument } from "../../core/manage/api_documents.ts";
import type { QueueService } from "../../core/manage/queue_service.ts";
import type { QueueSummaryStore } from "../../core/store/mod.ts";
import type { AdminEnv, AdminViewStore } from "../_context.ts";
import { sendPage } from "../_page.tsx";
import { DashboardPage } from "./view.tsx";

/** Dashboard routes (behind the page session check). */
export function dashboardPages(
  ctx: {
    store: Pick<AdminViewStore, "recentAttempts"> & QueueSummaryStore;
    queueOps?: Pick<QueueService, "listPauses">;
    config: Pick<Config, "nodeName">;
    cluster?: ClusterView;
    management?: { configVersion(): Promise<number> };
  },
): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.get("/", async (c) => {
    // Counts and charts load in the browser: the page never waits for a scan of the store.
    const [attempts, nodes, configVersion, destinations, pauses] = await Promise.all([
      ctx.store.recentAttempts({ limit: 20 }),
      ctx.cluster ? ctx.cluster.nodes() : Promise.resolve([]),
      ctx.management ? ctx.management.configVersion() : Promise.resolve(null),
      ctx.store.openUnitsByDomain(8),
      ctx.queueOps ? ctx.queueOps.listPauses(c.var.actor!) : Promise.resolve([]),
    ]);
    const pausedDomains = new Set(
      pauses.filter((p) => p.in_force && p.domain && !p.source && !p.tag).map((p) => p.domain!),
    );
    return sendPage(
      c,
      <DashboardPage
        attempts={attempts}
        node={ctx.config.nodeName}
        nodes={nodes.map(nodeDocument)}
        configVersion={configVersion}
        destinations={destinations.domains.map((d) => ({
          ...d,
          paused: pausedDomains.has(d.domain),
        }))}
      />,
    );
  });
  return app;
}
