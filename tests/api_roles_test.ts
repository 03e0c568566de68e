/**
 * Who may do what (issue 14 part 4), walked over the app's own route table: every operation of
 * /api/v1/openapi.json — the document the routes generate, with the roles each declares — is
 * called with no credentials and wrong ones (401), with an API key of each role (allowed or
 * 403 exactly as declared), with the admin token, and as a console session whose mutations need
 * the CSRF token. And a sender key reads the messages it sent, and no other's.
 */
import type { OpenAPIV3_1 } from "openapi-types";
import { assert, assertEquals } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { ADMIN_TOKEN, adminFixture, DELIVERED_ID } from "./helpers/admin_fixture.ts";
import { fakeResources } from "./helpers/fake_objects.ts";
import { addApiKey } from "../core/auth/api_keys.ts";
import { type Role, ROLES } from "../core/manage/types.ts";
import { RoleSchema } from "../core/api/schemas.ts";
import type { NewMessage } from "../core/contracts/mod.ts";
import type { SqlStore } from "../core/store/mod.ts";
import { openManagement } from "../core/manage/mod.ts";
import { QueueService } from "../core/manage/queue_service.ts";
import { adminApp } from "../routes/mod.ts";
import { managementResources } from "../routes/resources/management.ts";
import { consoleUserResource } from "../routes/resources/domains.ts";
import { consoleUserObjects } from "../core/manage/console_users.ts";
import type { ObjectService } from "../core/manage/types.ts";

const METHODS = ["get", "put", "post", "delete", "patch"] as const;

interface Operation {
  method: string;
  path: string;
  roles: Role[];
  apiKeysOnly: boolean;
}

/** Every operation of the document with its declared roles. */
function operationsOf(document: OpenAPIV3_1.Document): Operation[] {
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    for (const method of METHODS) {
      const operation = item?.[method] as Record<string, unknown> | undefined;
      if (!operation) continue;
      operations.push({
        method: method.toUpperCase(),
        path: `/api/v1${path.replace(/\{[^}]+\}/g, "nosuch")}`,
        roles: operation["x-fastmta-roles"] as Role[],
        apiKeysOnly: operation["x-fastmta-api-keys-only"] === true,
      });
    }
  }
  return operations;
}

async function setup(dir: string) {
  const holder: { store?: SqlStore } = {};
  const accept = {
    submit: async (message: NewMessage) => {
      await holder.store!.insertMessages([message]);
      return message.id;
    },
  };
  // The real config kinds and audit of core/manage, and fakes for the kinds other branches add.
  const fixture = await adminFixture(dir, { accept });
  holder.store = fixture.store;
  const management = openManagement(fixture.store);
  const fakes = fakeResources().filter((r) => r.path !== "vmtas");
  const app = adminApp({
    ...fixture.context,
    management,
    resources: [
      ...managementResources(management),
      consoleUserResource(consoleUserObjects(fixture.store) as unknown as ObjectService),
      ...fakes,
    ],
    queueOps: new QueueService(fixture.store, fixture.config, () => {}),
  });
  const keys = {} as Record<Role, string>;
  for (const role of ROLES) keys[role] = await addApiKey(fixture.store, `k-${role}`, { role });
  return { ...fixture, app, keys };
}

function call(
  app: { request(path: string, init: RequestInit): Response | Promise<Response> },
  op: Operation,
  headers: Record<string, string>,
) {
  const init: RequestInit = { method: op.method, headers: { ...headers } };
  if (op.method !== "GET" && op.method !== "DELETE") {
    init.headers = { ...headers, "content-type": "application/json" };
    init.body = "{}";
  }
  return app.request(op.path, init);
}

Deno.test("roles: the schema's role names are core/manage's", () => {
  assertEquals(RoleSchema.options, [...ROLES]);
});

/**
 * The policy of issue 14: readers (admin, operator, viewer) read; senders send and read a
 * message (their own); operators act on messages and change suppressions and pauses; the rest
 * is admin's.
 */
function policy(op: Operation): Role[] {
  const readers: Role[] = ["admin", "operator", "viewer"];
  const operators: Role[] = ["admin", "operator"];
  if (op.method === "POST" && op.path === "/api/v1/messages") return ["admin", "sender"];
  // Keys and console users are credentials: only admins see or change them.
  if (/^\/api\/v1\/(api-keys|console-users)(\/|$)/.test(op.path)) return ["admin"];
  if (op.method === "GET") {
    return op.path === "/api/v1/messages/nosuch" ? [...readers, "sender"] : readers;
  }
  if (/^\/api\/v1\/(messages|suppressions|pauses|queue)(\/|$)/.test(op.path)) return operators;
  // Throttling is an operator's lever in an incident (core/manage/kinds.ts writeRoles).
  if (op.path.startsWith("/api/v1/shaping-rules")) return operators;
  return ["admin"];
}

Deno.test("roles: each operation declares the roles of the policy", async () => {
  await using dir = tempDir();
  const { app, store } = await setup(dir.path);
  try {
    const document = await (await app.request("/api/v1/openapi.json")).json();
    const wrong = operationsOf(document)
      .filter((op) => JSON.stringify(op.roles) !== JSON.stringify(policy(op)))
      .map((op) => `${op.method} ${op.path}: ${op.roles} (policy: ${policy(op)})`);
    assertEquals(wrong, []);
  } finally {
    await store.close();
  }
});

Deno.test("roles: every API operation gives 401, 403 or access exactly as it declares", async () => {
  await using dir = tempDir();
  const { app, store, auth, keys } = await setup(dir.path);
  try {
    const document = await (await app.request("/api/v1/openapi.json")).json();
    const operations = operationsOf(document);
    assert(operations.length >= 20, `only ${operations.length} operations`);
    await auth.addUser("olga", "correct horse battery", "admin");
    const token = (await auth.login("olga", "correct horse battery"))!;
    const csrf = (await auth.session(token))!.csrfToken;
    const cookie = `fastmta_session=${token}`;

    const failures: string[] = [];
    const expect = async (
      op: Operation,
      who: string,
      headers: Record<string, string>,
      ok: boolean,
    ) => {
      const response = await call(app, op, headers);
      await response.body?.cancel();
      const allowed = response.status !== 401 && response.status !== 403;
      const denied = ok ? "" : who.startsWith("none") || who.startsWith("wrong") ? "401" : "403";
      if (ok ? !allowed : String(response.status) !== denied) {
        failures.push(`${op.method} ${op.path} as ${who}: ${response.status}`);
      }
    };
    for (const op of operations) {
      await expect(op, "none", {}, false);
      await expect(op, "wrong token", { authorization: "Bearer not-a-token" }, false);
      await expect(op, "wrong key", { authorization: `Bearer fmk_${"A".repeat(43)}` }, false);
      for (const role of ROLES) {
        await expect(
          op,
          `key ${role}`,
          { authorization: `Bearer ${keys[role]}` },
          op.roles.includes(role),
        );
      }
      const asAdmin = op.roles.includes("admin") && !op.apiKeysOnly;
      await expect(op, "admin token", { authorization: `Bearer ${ADMIN_TOKEN}` }, asAdmin);
      await expect(op, "session with CSRF", { cookie, "x-csrf-token": csrf }, asAdmin);
      const safe = op.method === "GET";
      await expect(op, "session without CSRF", { cookie }, asAdmin && safe);
    }
    assertEquals(failures, []);

    // A viewer's session reads and is refused changes even with its CSRF token.
    await auth.addUser("vera", "correct horse battery", "viewer");
    const viewerToken = (await auth.login("vera", "correct horse battery"))!;
    const viewer = {
      cookie: `fastmta_session=${viewerToken}`,
      "x-csrf-token": (await auth.session(viewerToken))!.csrfToken,
    };
    assertEquals((await app.request("/api/v1/queue", { headers: viewer })).status, 200);
    const cancel = await app.request(`/api/v1/messages/${DELIVERED_ID}`, {
      method: "DELETE",
      headers: viewer,
    });
    assertEquals(cancel.status, 403);
    assertEquals(
      (await cancel.json()).detail,
      'Role "viewer" may not DELETE this resource: it needs "admin" or "operator"',
    );
  } finally {
    await store.close();
  }
});

Deno.test("roles: a sender key sends, reads what it sent, and nothing else", async () => {
  await using dir = tempDir();
  const { app, store, keys } = await setup(dir.path);
  try {
    await addApiKey(store, "other-sender", { role: "sender" }).then(async (other) => {
      const as = (key: string) => ({ authorization: `Bearer ${key}` });
      const sent = await app.request("/api/v1/messages", {
        method: "POST",
        headers: { ...as(keys.sender), "content-type": "application/json" },
        body: JSON.stringify({ from: "a@origin.test", to: ["b@dest.test"], text: "hi" }),
      });
      assertEquals(sent.status, 202);
      const { id } = await sent.json();
      const own = await app.request(`/api/v1/messages/${id}`, { headers: as(keys.sender) });
      assertEquals(own.status, 200);
      assertEquals((await own.json()).api_key, "k-sender");
      const others = await app.request(`/api/v1/messages/${id}`, { headers: as(other) });
      assertEquals(others.status, 404, "another key's message is not found, not forbidden");
      await others.body?.cancel();
      const seeded = await app.request(`/api/v1/messages/${DELIVERED_ID}`, {
        headers: as(keys.sender),
      });
      assertEquals(seeded.status, 404);
      await seeded.body?.cancel();
      const viewer = await app.request(`/api/v1/messages/${id}`, { headers: as(keys.viewer) });
      assertEquals(viewer.status, 200, "readers see every message");
      await viewer.body?.cancel();
      const list = await app.request("/api/v1/messages", { headers: as(keys.sender) });
      assertEquals(list.status, 403, "a sender does not list the queue");
      await list.body?.cancel();
      const viewerSends = await app.request("/api/v1/messages", {
        method: "POST",
        headers: { ...as(keys.viewer), "content-type": "application/json" },
        body: "{}",
      });
      assertEquals(viewerSends.status, 403);
      await viewerSends.body?.cancel();
    });
  } finally {
    await store.close();
  }
});
