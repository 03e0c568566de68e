/**
 * The REST faces of core/manage on a real store: every config kind mounted by the CRUD factory
 * (documented in a valid OpenAPI document), the service's field-path validation as a 400
 * problem, versions as ETags with If-Match, and the audit log with revert.
 */
import { validate } from "@readme/openapi-parser";
import { assert, assertEquals } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { adminFixture } from "./helpers/admin_fixture.ts";
import { addApiKey } from "../core/auth/api_keys.ts";
import { openManagement } from "../core/manage/mod.ts";
import { adminApp } from "../routes/mod.ts";

async function setup(dir: string) {
  const fixture = await adminFixture(dir);
  const management = openManagement(fixture.store);
  const app = adminApp({ ...fixture.context, management });
  const keys = {
    admin: await addApiKey(fixture.store, "deploy", { role: "admin" }),
    operator: await addApiKey(fixture.store, "oncall", { role: "operator" }),
    viewer: await addApiKey(fixture.store, "dash", { role: "viewer" }),
  };
  const request = (
    method: string,
    path: string,
    options: { body?: unknown; key?: string; headers?: Record<string, string> } = {},
  ) =>
    app.request(path, {
      method,
      headers: {
        authorization: `Bearer ${options.key ?? keys.admin}`,
        ...(options.body !== undefined ? { "content-type": "application/json" } : {}),
        ...options.headers,
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  return { ...fixture, app, keys, request, management };
}

Deno.test("manage API: every config kind and the audit log are documented, the document valid", async () => {
  await using dir = tempDir();
  const { app, store } = await setup(dir.path);
  try {
    const document = await (await app.request("/api/v1/openapi.json")).json();
    const result = await validate(structuredClone(document));
    assert(result.valid, JSON.stringify(result));
    for (
      const path of [
        "/vmtas",
        "/vmtas/{id}",
        "/pools",
        "/listeners",
        "/routes",
        "/shaping-rules/{id}",
        "/audit",
        "/audit/{id}/revert",
      ]
    ) {
      assert(document.paths[path], `${path} is not documented`);
    }
  } finally {
    await store.close();
  }
});

Deno.test("manage API: vmta create, validation by field, If-Match, audit and revert", async () => {
  await using dir = tempDir();
  const { store, request, keys, management } = await setup(dir.path);
  try {
    const invalid = await request("POST", "/api/v1/vmtas", {
      body: { ip: "not-an-ip", hostname: "mta12.example.test" },
    });
    assertEquals(invalid.status, 400);
    const problem = await invalid.json();
    assertEquals(problem.errors.map((e: { path: string }) => e.path), ["ip"]);
    assertEquals((await management.objects.vmta.list({})).items, [], "nothing stored");

    const created = await request("POST", "/api/v1/vmtas", {
      body: { ip: "127.0.0.12", hostname: "mta12.example.test" },
    });
    assertEquals(created.status, 201, await created.clone().text());
    assertEquals(created.headers.get("etag"), '"1"');
    assertEquals(created.headers.get("location"), "/api/v1/vmtas/127.0.0.12");
    assertEquals((await created.json()).updated_by, "key:deploy");

    const patched = await request("PATCH", "/api/v1/vmtas/127.0.0.12", {
      body: { weight: 3 },
      headers: { "if-match": '"1"' },
    });
    assertEquals(patched.status, 200);
    assertEquals(patched.headers.get("etag"), '"2"');
    await patched.body?.cancel();
    const lost = await request("PATCH", "/api/v1/vmtas/127.0.0.12", {
      body: { weight: 5 },
      headers: { "if-match": '"1"' },
    });
    assertEquals(lost.status, 412);
    await lost.body?.cancel();

    const denied = await request("PATCH", "/api/v1/vmtas/127.0.0.12", {
      body: { weight: 5 },
      key: keys.operator,
    });
    assertEquals(denied.status, 403);
    await denied.body?.cancel();

    const audit = await (await request("GET", "/api/v1/audit?kind=vmta", { key: keys.viewer }))
      .json();
    assertEquals(audit.items.map((e: { action: string }) => e.action), ["update", "create"]);
    const update = audit.items[0];
    assertEquals(update.actor, "key:deploy");
    const viewerRevert = await request("POST", `/api/v1/audit/${update.id}/revert`, {
      key: keys.viewer,
    });
    assertEquals(viewerRevert.status, 403);
    await viewerRevert.body?.cancel();
    const reverted = await request("POST", `/api/v1/audit/${update.id}/revert`);
    assertEquals(reverted.status, 200);
    assertEquals((await reverted.json()).action, "revert");
    const now = await (await request("GET", "/api/v1/vmtas/127.0.0.12")).json();
    assertEquals(now.body.weight, 1, "the update is undone");
    assertEquals(now.version, 3);
    const missing = await request("GET", "/api/v1/audit/999999");
    assertEquals(missing.status, 404);
    await missing.body?.cancel();
  } finally {
    await store.close();
  }
});
