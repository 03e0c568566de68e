/** `GET /`: the dashboard. */
import { Hono } from "hono";
import type { Config } from "../../core/config/mod.ts";
import type { AdminEnv, AdminViewStore } from "../_context.ts";
import { sendPage } from "../_page.tsx";
import { DashboardPage } from "./view.tsx";

/** Dashboard routes (behind the page session check). */
export function dashboardPages(
  ctx: {
    store: Pick<AdminViewStore, "counts" | "recentAttempts">;
    config: Pick<Config, "nodeName">;
  },
): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.get("/", async (c) => {
    const [counts, attempts] = await Promise.all([
      ctx.store.counts(Date.now()),
      ctx.store.recentAttempts({ limit: 20 }),
    ]);
    return sendPage(
      c,
      <DashboardPage counts={counts} attempts={attempts} node={ctx.config.nodeName} />,
    );
  });
  return app;
}
