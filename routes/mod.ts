/**
 * The admin HTTP app: pages (server-rendered Preact) and the versioned JSON API. Routes call
 * core/ through the store interface, never SQL directly.
 */
import { Hono } from "hono";
import type { ClusterView } from "../core/cluster/mod.ts";
import type { Config } from "../core/config/mod.ts";
import type { Store } from "../core/store/mod.ts";
import { statusPage } from "./index.tsx";
import { nodeRoutes } from "./nodes.ts";

/** What the routes need from the running node. */
export interface AdminContext {
  config: Config;
  store: Store;
  startedAt: number;
  /** The cluster this node belongs to (absent in route tests that do not need it). */
  cluster?: ClusterView;
}

/** Builds the admin app. */
export function adminApp(ctx: AdminContext): Hono {
  const app = new Hono();
  app.get("/", async (c) => c.html(await statusPage(ctx)));
  app.get("/healthz", (c) => c.json({ status: "ok", node: ctx.config.nodeId }));
  app.get("/api/v1/queue", async (c) => c.json(await ctx.store.counts(Date.now())));
  app.get("/api/v1/messages/:id", async (c) => {
    const status = await ctx.store.messageStatus(c.req.param("id"));
    return status ? c.json(status) : c.json({ error: "Message not found" }, 404);
  });
  app.route("/api/v1/nodes", nodeRoutes(ctx));
  return app;
}
