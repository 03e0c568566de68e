/**
 * The REST API's OpenAPI 3.1 document (`/api/v1/openapi.json`), made from the routes' zod
 * schemas: valid by @readme/openapi-parser, and documenting every route the app mounts under
 * /api/v1 (read from the app itself); and errors as RFC 9457 problem details, also for paths and
 * methods no route has.
 */
import { validate } from "@readme/openapi-parser";
import type { OpenAPIV3_1 } from "openapi-types";
import { assert, assertEquals } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { ADMIN_TOKEN, adminFixture } from "./helpers/admin_fixture.ts";
import { ProblemSchema } from "../core/api/schemas.ts";
import { fakeResources } from "./helpers/fake_objects.ts";
import { addApiKey } from "../core/auth/api_keys.ts";

const bearer = { authorization: `Bearer ${ADMIN_TOKEN}` };
const METHODS = ["get", "put", "post", "delete", "patch"] as const;

/** Hono's "/messages/:id" as OpenAPI's "/messages/{id}". */
function openApiPath(path: string): string {
  return path.replace(/:([^/]+)/g, "{$1}");
}

Deno.test("openapi.json is a valid OpenAPI 3.1 document naming every mounted /api/v1 route", async () => {
  await using dir = tempDir();
  const { app, store } = await adminFixture(dir.path, { resources: fakeResources() });
  try {
    const response = await app.request("/api/v1/openapi.json");
    assertEquals(response.status, 200);
    const document = await response.json() as OpenAPIV3_1.Document;
    assertEquals(document.openapi, "3.1.0");
    const result = await validate(structuredClone(document) as never);
    assert(result.valid, `invalid OpenAPI: ${JSON.stringify(result, null, 2)}`);
    assertEquals(result.warnings, []);

    const documented = new Set<string>();
    for (const [path, item] of Object.entries(document.paths ?? {})) {
      for (const method of METHODS) {
        const operation = item?.[method] as Record<string, unknown> | undefined;
        if (!operation) continue;
        documented.add(`${method.toUpperCase()} /api/v1${path}`);
        const roles = operation["x-fastmta-roles"];
        assert(Array.isArray(roles) && roles.length > 0, `${method} ${path}: no roles declared`);
      }
    }
    const mounted = app.routes
      .filter((r) => r.path.startsWith("/api/v1/") && r.method !== "ALL")
      .filter((r) => r.path !== "/api/v1/openapi.json")
      .map((r) => `${r.method} ${openApiPath(r.path)}`);
    assert(mounted.length >= 20, `only ${mounted.length} API routes seen`);
    for (const route of new Set(mounted)) {
      assert(documented.has(route), `${route} is mounted but not in openapi.json`);
    }
    for (const path of ["/api/v1/messages", "/api/v1/nodes", "/api/v1/vmtas/{id}"]) {
      assert([...documented].some((r) => r.endsWith(` ${path}`)), `${path} not documented`);
    }
  } finally {
    await store.close();
  }
});

Deno.test("API errors are problem details: unknown path 404, wrong method 405, bad query 400", async () => {
  await using dir = tempDir();
  const { app, store } = await adminFixture(dir.path);
  const problemOf = async (response: Response, status: number) => {
    assertEquals(response.status, status);
    assertEquals(response.headers.get("content-type"), "application/problem+json");
    const body = ProblemSchema.parse(await response.json());
    assertEquals(body.status, status);
    return body;
  };
  try {
    const unknown = await problemOf(await app.request("/api/v1/nosuch", { headers: bearer }), 404);
    assert(unknown.detail.includes("/api/v1/nosuch"), unknown.detail);
    await problemOf(await app.request("/api/v1/nosuch"), 404);

    const wrongMethod = await app.request("/api/v1/queue", { method: "PUT", headers: bearer });
    await problemOf(wrongMethod, 405);
    assertEquals(wrongMethod.headers.get("allow"), "GET");

    const badCursor = await problemOf(
      await app.request("/api/v1/messages?cursor=nonsense!", { headers: bearer }),
      400,
    );
    assertEquals(badCursor.errors?.[0].path, "query.cursor");

    const missing = await problemOf(
      await app.request("/api/v1/messages/nosuch", { headers: bearer }),
      404,
    );
    assertEquals(missing.detail, 'message "nosuch" not found');

    const anonymous = await app.request("/api/v1/queue");
    await problemOf(anonymous, 401);
    assertEquals(anonymous.headers.get("www-authenticate"), 'Bearer realm="fastmta"');
    const wrong = await app.request("/api/v1/queue", { headers: { authorization: "Bearer no" } });
    await problemOf(wrong, 401);
    assert(wrong.headers.get("www-authenticate")?.includes("invalid_token"));

    // The admin token does not send (API keys only); with a key and no accept door in this
    // fixture, sending is a 503 problem, not a crash.
    const send = (authorization: string) =>
      app.request("/api/v1/messages", {
        method: "POST",
        headers: { authorization, "content-type": "application/json" },
        body: "{}",
      });
    await problemOf(await send(bearer.authorization), 403);
    const key = await addApiKey(store, "shop", { role: "sender" });
    await problemOf(await send(`Bearer ${key}`), 503);
  } finally {
    await store.close();
  }
});

Deno.test("message list pages with an opaque cursor until no next_cursor", async () => {
  await using dir = tempDir();
  const { app, store } = await adminFixture(dir.path);
  try {
    const seen: string[] = [];
    let path = "/api/v1/messages?limit=1";
    for (let pages = 0; pages < 5; pages++) {
      const response = await app.request(path, { headers: bearer });
      assertEquals(response.status, 200);
      const page = await response.json() as { items: { id: string }[]; next_cursor?: string };
      seen.push(...page.items.map((m) => m.id));
      if (!page.next_cursor) break;
      path = `/api/v1/messages?limit=1&cursor=${page.next_cursor}`;
    }
    assertEquals(seen, ["fixture-quarantined", "fixture-delivered"]);
  } finally {
    await store.close();
  }
});
