/**
 * The queue operations' REST routes (routes/queue_ops) in the app, without a server: the OpenAPI
 * document stays valid with them and documents each one with its roles; a viewer key searches
 * but may not pause (403); an operator pauses (201, snake_case), and a bad filter is a 400
 * problem naming the field.
 */
import { validate } from "@readme/openapi-parser";
import type { OpenAPIV3_1 } from "openapi-types";
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { adminFixture } from "./helpers/admin_fixture.ts";
import { addApiKey } from "../core/auth/api_keys.ts";
import { QueueService } from "../core/manage/queue_service.ts";
import { adminApp } from "../routes/mod.ts";

Deno.test("queue operations on the REST API: documented, roles, problems", async () => {
  await using dir = tempDir();
  const fixture = await adminFixture(dir.path);
  const { store } = fixture;
  try {
    const app = adminApp({
      ...fixture.context,
      queueOps: new QueueService(store, fixture.config, () => {}),
    });
    const document = await (await app.request("/api/v1/openapi.json"))
      .json() as OpenAPIV3_1.Document;
    const result = await validate(structuredClone(document) as never);
    assert(result.valid, `invalid OpenAPI: ${JSON.stringify(result, null, 2)}`);
    const roles = (path: string, method: "get" | "post" | "delete") =>
      (document.paths?.[path]?.[method] as Record<string, unknown> | undefined)?.[
        "x-fastmta-roles"
      ];
    assertEquals(roles("/queue/units", "get"), ["admin", "operator", "viewer"]);
    for (
      const [path, method] of [
        ["/queue/actions", "post"],
        ["/messages/{id}/retry", "post"],
        ["/messages/{id}/bounce", "post"],
        ["/messages/{id}/hold", "post"],
        ["/pauses", "post"],
        ["/pauses/{id}", "delete"],
      ] as const
    ) assertEquals(roles(path, method), ["admin", "operator"], `${method} ${path}`);

    const viewer = { authorization: `Bearer ${await addApiKey(store, "v", { role: "viewer" })}` };
    const operator = {
      authorization: `Bearer ${await addApiKey(store, "o", { role: "operator" })}`,
    };
    const json = { "content-type": "application/json" };
    const search = await app.request("/api/v1/queue/units?domain=x.test", { headers: viewer });
    assertEquals(search.status, 200);
    assertEquals(await search.json(), { items: [] });
    const body = JSON.stringify({ domain: "x.test", until: Date.now() + 60_000 });
    const denied = await app.request("/api/v1/pauses", {
      method: "POST",
      headers: { ...viewer, ...json },
      body,
    });
    assertEquals(denied.status, 403);
    const added = await app.request("/api/v1/pauses", {
      method: "POST",
      headers: { ...operator, ...json },
      body,
    });
    assertEquals(added.status, 201);
    const pause = await added.json();
    assertEquals([pause.domain, pause.in_force, pause.created_by], ["x.test", true, "key:o"]);
    const bad = await app.request("/api/v1/queue/units?min_age=soon", { headers: viewer });
    assertEquals(bad.status, 400);
    assertMatch(JSON.stringify((await bad.json()).errors), /min_age/);
    const dry = await app.request("/api/v1/queue/actions", {
      method: "POST",
      headers: { ...operator, ...json },
      body: JSON.stringify({ action: "retry", filter: { domain: "x.test" }, dry_run: true }),
    });
    assertEquals([dry.status, await dry.json()], [200, { total: 0 }]);
  } finally {
    await store.close();
  }
});
