/**
 * `/api/v1/api-keys`: an admin makes a key with a role (shown once), the key works with exactly
 * that role, the list never shows a key, a bad name or role is a 400 naming the field, a taken
 * name 409, and a revoked key is refused at once. Changes are audited.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { ADMIN_TOKEN, adminFixture } from "./helpers/admin_fixture.ts";
import { openManagement } from "../core/manage/mod.ts";
import { adminApp } from "../routes/mod.ts";

Deno.test("api keys: made with a role over the API, shown once, revoked at once", async () => {
  await using dir = tempDir();
  const fixture = await adminFixture(dir.path);
  const management = openManagement(fixture.store);
  const app = adminApp({ ...fixture.context, management });
  const call = (method: string, path: string, token = ADMIN_TOKEN, body?: unknown) =>
    app.request(path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  try {
    const created = await call("POST", "/api/v1/api-keys", ADMIN_TOKEN, {
      name: "dash",
      role: "viewer",
    });
    assertEquals(created.status, 201);
    assertEquals(created.headers.get("location"), "/api/v1/api-keys/dash");
    const { key, role } = await created.json();
    assertEquals(role, "viewer");
    assert(/^fmk_[A-Za-z0-9_-]{43}$/.test(key), key);

    assertEquals((await call("GET", "/api/v1/queue", key)).status, 200);
    const refused = await call("GET", "/api/v1/api-keys", key);
    assertEquals(refused.status, 403, "a viewer does not see the keys");
    await refused.body?.cancel();

    const list = await call("GET", "/api/v1/api-keys");
    const text = await list.text();
    assert(!text.includes(key), "the list never shows a key");
    assertEquals(JSON.parse(text).items.map((k: { name: string }) => k.name), ["dash"]);

    const badRole = await call("POST", "/api/v1/api-keys", ADMIN_TOKEN, {
      name: "x",
      role: "root",
    });
    assertEquals(badRole.status, 400);
    assertEquals((await badRole.json()).errors[0].path, "role");
    const badName = await call("POST", "/api/v1/api-keys", ADMIN_TOKEN, { name: "bad name" });
    assertEquals(badName.status, 400);
    assertEquals((await badName.json()).errors[0].path, "name");
    const taken = await call("POST", "/api/v1/api-keys", ADMIN_TOKEN, { name: "dash" });
    assertEquals(taken.status, 409);
    await taken.body?.cancel();

    assertEquals((await call("DELETE", "/api/v1/api-keys/dash")).status, 204);
    const revoked = await call("GET", "/api/v1/queue", key);
    assertEquals(revoked.status, 401);
    await revoked.body?.cancel();
    assertEquals((await call("DELETE", "/api/v1/api-keys/dash")).status, 404);

    const audit = await management.audit.list({ kind: "api_key" });
    assertEquals(audit.items.map((e) => e.action), ["delete", "create"]);
    assertEquals(audit.items[0].actor, "token");
  } finally {
    await fixture.store.close();
  }
});
