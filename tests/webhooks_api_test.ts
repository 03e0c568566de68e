/**
 * `/api/v1/webhooks` through `app.request()` on a real temp SQLite store: the brief's
 * `{"url", "events", "secret"}` creates a webhook (snake_case JSON, no secret in any answer),
 * bad input is a 400 naming the field with nothing stored, If-Match guards changes, and the
 * secret is stored sealed (never in clear in the database).
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { parseConfig } from "../core/config/mod.ts";
import { openStore } from "../core/store/mod.ts";
import { AdminAuth } from "../core/auth/admin.ts";
import { webhookSecretOpener, WebhookService } from "../core/manage/webhooks.ts";
import { adminApp } from "../routes/mod.ts";

const TOKEN = "route-test-token-0123456789";
const SECRET = "a-webhook-secret-0123456789";

async function setup(dir: string) {
  const config = parseConfig({ data_dir: dir, admin: { api_tokens: [TOKEN] } });
  const store = await openStore(config, "admin");
  await store.migrate();
  const webhooks = new WebhookService(store, config);
  const app = adminApp({ config, store, auth: new AdminAuth(store), startedAt: 0, webhooks });
  const call = (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) =>
    app.request(`/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  return { store, call, config };
}

Deno.test("POST /api/v1/webhooks creates, lists, changes, removes; secrets never shown", async () => {
  await using dir = tempDir();
  const { store, call, config } = await setup(dir.path);
  try {
    assertEquals((await call("GET", "/webhooks", undefined, { authorization: "" })).status, 401);
    const created = await call("POST", "/webhooks", {
      url: "https://hooks.example.org/fastmta",
      events: ["delivered", "bounced"],
      secret: SECRET,
    });
    assertEquals(created.status, 201);
    const body = await created.json();
    assertEquals(body.kind, "webhook");
    assertEquals(body.version, 1);
    assertEquals(body.body.events, ["delivered", "bounced"]);
    assertEquals(body.body.status.backlog, 0);
    assert(!JSON.stringify(body).includes(SECRET), "no secret in the answer");

    const stored = await store.getWebhook(body.id);
    assert(stored && !stored.secret.includes(SECRET), "sealed at rest");
    assertEquals(await webhookSecretOpener(config)(stored), SECRET);

    const list = await (await call("GET", "/webhooks")).json();
    assertEquals(list.items.length, 1);
    assert(!JSON.stringify(list).includes(SECRET));

    const stale = await call("PATCH", `/webhooks/${body.id}`, { enabled: false }, {
      "if-match": '"7"',
    });
    assertEquals(stale.status, 412);
    const changed = await call("PATCH", `/webhooks/${body.id}`, { enabled: false }, {
      "if-match": '"1"',
    });
    assertEquals(changed.status, 200);
    assertEquals((await changed.json()).body.enabled, false);

    const deliveries = await (await call("GET", `/webhooks/${body.id}/deliveries`)).json();
    assertEquals(deliveries.deliveries, []);
    assertEquals((await (await call("GET", `/webhooks/${body.id}/dead-letters`)).json()).items, []);
    assertEquals(
      (await (await call("POST", `/webhooks/${body.id}/replay`, {})).json()).replayed_events,
      0,
    );

    assertEquals((await call("DELETE", `/webhooks/${body.id}`)).status, 204);
    assertEquals((await call("GET", `/webhooks/${body.id}`)).status, 404);
  } finally {
    await store.close();
  }
});

Deno.test("bad webhook input: 400 naming the field, nothing stored", async () => {
  await using dir = tempDir();
  const { store, call } = await setup(dir.path);
  try {
    const cases: [unknown, string][] = [
      [{ url: "ftp://x", events: ["delivered"], secret: SECRET }, "url"],
      [{ url: "https://x.test/", events: ["delivrd"], secret: SECRET }, "events.0"],
      [{ url: "https://x.test/", events: [], secret: SECRET }, "events"],
      [{ url: "https://x.test/", events: ["delivered"], secret: "short" }, "secret"],
      [{ url: "https://x.test/", events: ["delivered"], secret: SECRET, extra: 1 }, ""],
    ];
    for (const [input, path] of cases) {
      const response = await call("POST", "/webhooks", input);
      assertEquals(response.status, 400, JSON.stringify(input));
      const problem = await response.json();
      assert(
        problem.errors.some((e: { path: string }) => e.path === path),
        `${JSON.stringify(problem)} names "${path}"`,
      );
    }
    assertEquals((await store.listWebhooks()).length, 0);
    const taken = { id: "one", url: "https://x.test/", events: ["*"], secret: SECRET };
    assertEquals((await call("POST", "/webhooks", taken)).status, 201);
    assertEquals((await call("POST", "/webhooks", taken)).status, 409);
  } finally {
    await store.close();
  }
});
