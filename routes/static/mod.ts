/** Files the pages load: the island bundle, the charts' stylesheet; no favicon (a 404, not a login redirect). */
import { Hono } from "hono";
import type { AdminEnv } from "../_context.ts";
import { chartStylesheet, islandsBundle } from "./bundle.ts";

/** Static routes (no authentication). */
export function staticRoutes(): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.get("/favicon.ico", (c) => c.body(null, 404));
  app.get("/static/islands.js", async (c) => {
    c.header("Content-Type", "text/javascript; charset=utf-8");
    c.header("Cache-Control", "no-cache");
    return c.body(await islandsBundle());
  });
  app.get("/static/uplot.css", async (c) => {
    c.header("Content-Type", "text/css; charset=utf-8");
    c.header("Cache-Control", "no-cache");
    return c.body(await chartStylesheet());
  });
  return app;
}
