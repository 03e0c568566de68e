/**
 * Console and API access rules through `app.request()` (no server), on a real temp SQLite store,
 * plus a check that the committed island bundle matches its sources.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { parseConfig } from "../core/config/mod.ts";
import { openStore } from "../core/store/mod.ts";
import { AdminAuth } from "../core/auth/admin.ts";
import { adminApp } from "../routes/mod.ts";

const TOKEN = "route-test-token-0123456789";

async function setup(dir: string) {
  const config = parseConfig({ data_dir: dir, admin: { api_tokens: [TOKEN] } });
  const store = await openStore(config, "admin");
  await store.migrate();
  const auth = new AdminAuth(store);
  await auth.addUser("alice", "correct horse battery");
  const app = adminApp({ config, store, auth, startedAt: Date.now() });
  return { app, store, auth };
}

function cookieFrom(response: Response, name: string): string {
  const header = response.headers.getSetCookie().find((c) => c.startsWith(name + "="));
  return header ? header.split(";")[0].slice(name.length + 1) : "";
}

Deno.test("API: 401 without credentials, 200 with a bearer token, a wrong token is refused", async () => {
  await using dir = tempDir();
  const { app, store } = await setup(dir.path);
  try {
    assertEquals((await app.request("/api/v1/queue")).status, 401);
    const ok = await app.request("/api/v1/queue", {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assertEquals(ok.status, 200);
    assertEquals((await ok.json()).queued, 0);
    const bad = await app.request("/api/v1/queue", { headers: { authorization: "Bearer nope" } });
    assertEquals(bad.status, 401);
  } finally {
    await store.close();
  }
});

Deno.test("login needs the pre-session's token; a session needs its CSRF token to post", async () => {
  await using dir = tempDir();
  const { app, store } = await setup(dir.path);
  try {
    const page = await app.request("/login");
    const pre = cookieFrom(page, "fastmta_login");
    assert(pre);
    const csrf = (await page.text()).match(/name="_csrf" value="([^"]+)"/)![1];

    const form = (fields: Record<string, string>) => new URLSearchParams(fields);
    const noCookie = await app.request("/login", {
      method: "POST",
      body: form({ _csrf: csrf, username: "alice", password: "correct horse battery" }),
    });
    assertEquals(noCookie.status, 403);

    const login = await app.request("/login", {
      method: "POST",
      headers: { cookie: `fastmta_login=${pre}` },
      body: form({ _csrf: csrf, username: "alice", password: "correct horse battery" }),
    });
    assertEquals(login.status, 302);
    const session = cookieFrom(login, "fastmta_session");
    assert(session);
    const headers = { cookie: `fastmta_session=${session}` };

    const dashboard = await app.request("/", { headers });
    assertEquals(dashboard.status, 200);
    const html = await dashboard.text();
    const token = html.match(/name="csrf-token" content="([^"]+)"/)![1];
    assertEquals(dashboard.headers.get("x-frame-options"), "DENY");

    const forged = await app.request("/logout", { method: "POST", headers, body: form({}) });
    assertEquals(forged.status, 403);
    const logout = await app.request("/logout", {
      method: "POST",
      headers,
      body: form({ _csrf: token }),
    });
    assertEquals(logout.status, 302);
    assertEquals((await app.request("/", { headers })).status, 302, "session ended");
  } finally {
    await store.close();
  }
});

Deno.test("the committed island bundle is built from the current islands/", async () => {
  await using dir = tempDir();
  const out = `${dir.path}/islands.js`;
  const root = new URL("..", import.meta.url).pathname;
  const build = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--platform", "browser", "--minify", "-o", out, "islands/client.ts"],
    cwd: root,
    stdout: "null",
    stderr: "piped",
  }).output();
  assertEquals(build.code, 0, new TextDecoder().decode(build.stderr));
  const fresh = await Deno.readTextFile(out);
  const committed = await Deno.readTextFile(`${root}/static/islands.js`);
  assert(fresh === committed, "static/islands.js is stale: run `deno task build`");
});
