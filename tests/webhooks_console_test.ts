/**
 * The console's webhooks page through `app.request()`: a logged-in admin sees the webhooks and
 * adds one with the form (the CSRF token is required); a viewer is refused the change by the
 * service; the secret never appears on the page.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { parseConfig } from "../core/config/mod.ts";
import { openStore } from "../core/store/mod.ts";
import { AdminAuth } from "../core/auth/admin.ts";
import { WebhookService } from "../core/manage/webhooks.ts";
import { adminApp } from "../routes/mod.ts";

const SECRET = "console-webhook-secret-0123";
const form = (fields: Record<string, string>) => new URLSearchParams(fields);

function cookieFrom(response: Response, name: string): string {
  const header = response.headers.getSetCookie().find((c) => c.startsWith(name + "="));
  return header ? header.split(";")[0].slice(name.length + 1) : "";
}

async function login(app: ReturnType<typeof adminApp>, user: string) {
  const page = await app.request("/login");
  const pre = cookieFrom(page, "fastmta_login");
  const csrf = (await page.text()).match(/name="_csrf" value="([^"]+)"/)![1];
  const done = await app.request("/login", {
    method: "POST",
    headers: { cookie: `fastmta_login=${pre}` },
    body: form({ _csrf: csrf, username: user, password: "correct horse battery" }),
  });
  assertEquals(done.status, 302);
  const headers = { cookie: `fastmta_session=${cookieFrom(done, "fastmta_session")}` };
  const html = await (await app.request("/webhooks", { headers })).text();
  const token = html.match(/name="csrf-token" content="([^"]+)"/)![1];
  return { headers, token, html };
}

Deno.test("console: an admin adds a webhook with the form; a viewer cannot", async () => {
  await using dir = tempDir();
  const config = parseConfig({ data_dir: dir.path });
  const store = await openStore(config, "admin");
  try {
    await store.migrate();
    const auth = new AdminAuth(store);
    await auth.addUser("alice", "correct horse battery");
    await auth.addUser("victor", "correct horse battery", "viewer");
    const webhooks = new WebhookService(store, config);
    const app = adminApp({ config, store, auth, startedAt: 0, webhooks });

    const admin = await login(app, "alice");
    assertMatch(admin.html, /<h1[^>]*>Webhooks<\/h1>/);
    const fields = {
      url: "https://hooks.example.org/x",
      events: "delivered, bounced",
      secret: SECRET,
    };
    const forged = await app.request("/webhooks", {
      method: "POST",
      headers: admin.headers,
      body: form(fields),
    });
    assertEquals(forged.status, 403, "no CSRF token");
    const added = await app.request("/webhooks", {
      method: "POST",
      headers: admin.headers,
      body: form({ ...fields, _csrf: admin.token }),
    });
    assertEquals(added.status, 302);
    const [hook] = await store.listWebhooks();
    assertEquals(hook.events, ["delivered", "bounced"]);
    const page = await (await app.request("/webhooks", { headers: admin.headers })).text();
    assert(page.includes(hook.id) && !page.includes(SECRET), "listed, secret not shown");

    const bad = await app.request("/webhooks", {
      method: "POST",
      headers: admin.headers,
      body: form({ ...fields, events: "nope", _csrf: admin.token }),
    });
    assertEquals(bad.status, 400);
    assertMatch(await bad.text(), /events\.0/);

    const viewer = await login(app, "victor");
    const refused = await app.request(`/webhooks/${hook.id}/remove`, {
      method: "POST",
      headers: viewer.headers,
      body: form({ _csrf: viewer.token }),
    });
    assertEquals(refused.status, 403);
    const removed = await app.request(`/webhooks/${hook.id}/remove`, {
      method: "POST",
      headers: admin.headers,
      body: form({ _csrf: admin.token }),
    });
    assertEquals(removed.status, 302);
    assertEquals((await store.listWebhooks()).length, 0);
  } finally {
    await store.close();
  }
});
