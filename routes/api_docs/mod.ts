/**
 * The API's reference: `GET /api/v1/openapi.json` (OpenAPI 3.1, generated from the routes' zod
 * schemas by @hono/zod-openapi) and `GET /api/docs`, a Swagger UI page served from the npm
 * package `swagger-ui-dist` by this route (no CDN; its scripts are files of ours, so the app's
 * strict CSP holds). Both are public: they describe the API and hold no data.
 */
import { Hono } from "hono";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { getAbsoluteFSPath } from "swagger-ui-dist";
import type { AdminEnv } from "../_context.ts";

/** The files of swagger-ui-dist the page loads, with their media types. */
const ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
};

/** Starts Swagger UI on the document (a file, not inline: script-src 'self'). */
const INIT_SCRIPT = `window.ui = SwaggerUIBundle({
  url: "/api/v1/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
});
`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>fastmta REST API</title>
<link rel="stylesheet" href="/api/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/api/docs/swagger-ui-bundle.js"></script>
<script src="/api/docs/init.js"></script>
</body>
</html>
`;

const cache = new Map<string, Uint8Array<ArrayBuffer>>();

async function asset(name: string): Promise<Uint8Array<ArrayBuffer>> {
  let bytes = cache.get(name);
  if (!bytes) {
    bytes = await Deno.readFile(`${getAbsoluteFSPath()}/${name}`);
    cache.set(name, bytes);
  }
  return bytes;
}

/** The OpenAPI 3.1 document of `api` (mounted at /api/v1). */
export function openApiDocument(api: OpenAPIHono<AdminEnv>) {
  return api.getOpenAPI31Document({
    openapi: "3.1.0",
    info: {
      title: "fastmta REST API",
      version: "1",
      description: "Errors are RFC 9457 problem details; lists are paged with `cursor`; " +
        "each operation's `x-fastmta-roles` names the roles that may call it.",
    },
    servers: [{ url: "/api/v1" }],
  });
}

/** The reference routes: the document (for `api`) and the docs page with its files. */
export function apiDocsRoutes(api: OpenAPIHono<AdminEnv>): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  let document: unknown = null;
  app.get("/api/v1/openapi.json", (c) => {
    document ??= openApiDocument(api);
    return c.json(document);
  });
  app.get("/api/docs", (c) => c.html(PAGE));
  app.get("/api/docs/init.js", (c) => {
    c.header("Content-Type", "text/javascript; charset=utf-8");
    return c.body(INIT_SCRIPT);
  });
  app.get("/api/docs/:file", async (c) => {
    const type = ASSETS[c.req.param("file")];
    if (!type) return c.notFound();
    c.header("Content-Type", type);
    c.header("Cache-Control", "public, max-age=3600");
    return c.body(await asset(c.req.param("file")));
  });
  return app;
}
