/**
 * The CRUD route factory (routes/_crud.ts) over an in-memory ObjectService: 201 + ETag +
 * Location, ETag = version, If-Match guards PUT/PATCH/DELETE (412 on a lost update), invalid
 * bodies and JSON as 400 problems naming the field, 409 for a taken id, cursor pages, and the
 * acting key recorded as the actor.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { adminFixture } from "./helpers/admin_fixture.ts";
import { FakeObjects, fakeResources } from "./helpers/fake_objects.ts";
import { addApiKey } from "../core/auth/api_keys.ts";

const VMTA = { id: "out1", source_ip: "127.0.0.51", hostname: "out1.example.test" };

async function setup(dir: string) {
  const resources = fakeResources();
  const fixture = await adminFixture(dir, { resources });
  const admin = await addApiKey(fixture.store, "deploy", { role: "admin" });
  const operator = await addApiKey(fixture.store, "oncall", { role: "operator" });
  const request = (
    method: string,
    path: string,
    options: { body?: unknown; key?: string; headers?: Record<string, string> } = {},
  ) =>
    fixture.app.request(path, {
      method,
      headers: {
        authorization: `Bearer ${options.key ?? admin}`,
        ...(options.body !== undefined ? { "content-type": "application/json" } : {}),
        ...options.headers,
      },
      body: options.body === undefined
        ? undefined
        : typeof options.body === "string"
        ? options.body
        : JSON.stringify(options.body),
    });
  const vmtas = resources[0].service as FakeObjects;
  return { ...fixture, request, operator, vmtas };
}

Deno.test("crud: create, read, update with If-Match, lost update 412, delete", async () => {
  await using dir = tempDir();
  const { store, request, vmtas } = await setup(dir.path);
  try {
    const created = await request("POST", "/api/v1/vmtas", { body: VMTA });
    assertEquals(created.status, 201);
    assertEquals(created.headers.get("etag"), '"1"');
    assertEquals(created.headers.get("location"), "/api/v1/vmtas/out1");
    const body = await created.json();
    assertEquals(body.version, 1);
    assertEquals(body.body, VMTA);
    assertEquals(body.updated_by, "key:deploy");

    const read = await request("GET", "/api/v1/vmtas/out1");
    assertEquals(read.headers.get("etag"), '"1"');
    await read.body?.cancel();

    const replaced = await request("PUT", "/api/v1/vmtas/out1", {
      body: { ...VMTA, hostname: "renamed.example.test" },
      headers: { "if-match": '"1"' },
    });
    assertEquals(replaced.status, 200);
    assertEquals(replaced.headers.get("etag"), '"2"');
    await replaced.body?.cancel();

    // A second writer that read version 1 loses: 412, the current ETag, nothing changed.
    const lost = await request("PATCH", "/api/v1/vmtas/out1", {
      body: { hostname: "stale.example.test" },
      headers: { "if-match": '"1"' },
    });
    assertEquals(lost.status, 412);
    assertEquals(lost.headers.get("content-type"), "application/problem+json");
    assertEquals(lost.headers.get("etag"), '"2"');
    assertEquals((await lost.json()).detail, 'vmta "out1" is at version 2; re-read it and retry');
    const patched = await request("PATCH", "/api/v1/vmtas/out1", {
      body: { hostname: "patched.example.test" },
      headers: { "if-match": 'W/"2"' },
    });
    assertEquals(patched.status, 200);
    const after = await patched.json();
    assertEquals(after.version, 3);
    assertEquals(after.body, { ...VMTA, hostname: "patched.example.test" });

    const badTag = await request("DELETE", "/api/v1/vmtas/out1", { headers: { "if-match": "x" } });
    assertEquals(badTag.status, 400);
    assertEquals((await badTag.json()).errors[0].path, "header.if-match");
    const staleDelete = await request("DELETE", "/api/v1/vmtas/out1", {
      headers: { "if-match": '"2"' },
    });
    assertEquals(staleDelete.status, 412);
    await staleDelete.body?.cancel();
    const deleted = await request("DELETE", "/api/v1/vmtas/out1", {
      headers: { "if-match": '"3"' },
    });
    assertEquals(deleted.status, 204);
    assertEquals((await request("GET", "/api/v1/vmtas/out1")).status, 404);
    assertEquals(vmtas.changes.map((c) => c.op), ["create", "update", "update", "remove"]);
  } finally {
    await store.close();
  }
});

Deno.test("crud: bad bodies and JSON are 400 problems naming the field; a taken id 409", async () => {
  await using dir = tempDir();
  const { store, request, vmtas } = await setup(dir.path);
  try {
    const invalid = await request("POST", "/api/v1/vmtas", {
      body: { ...VMTA, source_ip: "not-an-ip", extra: 1 },
    });
    assertEquals(invalid.status, 400);
    assertEquals(invalid.headers.get("content-type"), "application/problem+json");
    const problem = await invalid.json();
    const paths = problem.errors.map((e: { path: string }) => e.path).sort();
    assert(paths.includes("source_ip"), JSON.stringify(problem));
    assertEquals(problem.title, "Bad Request");

    const malformed = await request("POST", "/api/v1/vmtas", { body: "{not json" });
    assertEquals(malformed.status, 400);
    assertEquals(malformed.headers.get("content-type"), "application/problem+json");
    await malformed.body?.cancel();

    assertEquals((await request("POST", "/api/v1/vmtas", { body: VMTA })).status, 201);
    const taken = await request("POST", "/api/v1/vmtas", { body: VMTA });
    assertEquals(taken.status, 409);
    await taken.body?.cancel();
    assertEquals(vmtas.changes.length, 1, "nothing changed by the refused requests");
  } finally {
    await store.close();
  }
});

Deno.test("crud: lists page with cursors; operators change suppressions, not vmtas", async () => {
  await using dir = tempDir();
  const { store, request, operator } = await setup(dir.path);
  try {
    for (const n of [1, 2, 3]) {
      const body = { ...VMTA, id: `out${n}`, source_ip: `127.0.0.${50 + n}` };
      assertEquals((await request("POST", "/api/v1/vmtas", { body })).status, 201);
    }
    const ids: string[] = [];
    let path = "/api/v1/vmtas?limit=2";
    for (let i = 0; i < 3; i++) {
      const page = await (await request("GET", path)).json();
      ids.push(...page.items.map((o: { id: string }) => o.id));
      if (!page.next_cursor) break;
      path = `/api/v1/vmtas?limit=2&cursor=${page.next_cursor}`;
    }
    assertEquals(ids, ["out1", "out2", "out3"]);
    const badCursor = await request("GET", "/api/v1/vmtas?cursor=zzz");
    assertEquals(badCursor.status, 400);
    await badCursor.body?.cancel();

    const vmta = await request("POST", "/api/v1/vmtas", { body: VMTA, key: operator });
    assertEquals(vmta.status, 403);
    await vmta.body?.cancel();
    const suppression = await request("POST", "/api/v1/suppressions", {
      body: { id: "bad@example.test", reason: "complaint" },
      key: operator,
    });
    assertEquals(suppression.status, 201);
    assertEquals((await suppression.json()).updated_by, "key:oncall");
  } finally {
    await store.close();
  }
});
