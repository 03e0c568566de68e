/**
 * Issue 18, the console login as a black-box probe found it, through `app.request()` on a real
 * temp SQLite store: the login CSRF token is bound to a server-side pre-session (a planted
 * cookie `aaa` with field `aaa` fails), failed logins lock the login (the right password too),
 * the session id changes at login, cookies carry `Secure` over TLS, and pages and API answers
 * are `Cache-Control: no-store` (static assets may cache).
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { parseConfig } from "../core/config/mod.ts";
import { openStore } from "../core/store/mod.ts";
import { AdminAuth } from "../core/auth/admin.ts";
import { LoginThrottle } from "../core/auth/login_throttle.ts";
import { adminApp } from "../routes/mod.ts";

const TOKEN = "hardening-test-token-0123456789";
const PASSWORD = "correct horse battery";

async function setup(dir: string, login: Record<string, unknown> = {}) {
  const config = parseConfig({ data_dir: dir, admin: { api_tokens: [TOKEN], login } });
  const store = await openStore(config, "admin");
  await store.migrate();
  const auth = new AdminAuth(store);
  await auth.addUser("alice", PASSWORD);
  const app = adminApp({ config, store, auth, startedAt: Date.now() });
  return { app, store };
}

function setCookie(response: Response, name: string): string | undefined {
  return response.headers.getSetCookie().find((c) => c.startsWith(name + "="));
}

function cookieValue(response: Response, name: string): string {
  return setCookie(response, name)?.split(";")[0].slice(name.length + 1) ?? "";
}

/** A fresh login form: its pre-session cookie and CSRF field. */
async function loginForm(app: Awaited<ReturnType<typeof setup>>["app"], base = "http://h") {
  const page = await app.request(`${base}/login`);
  const html = await page.text();
  return {
    cookie: cookieValue(page, "fastmta_login"),
    csrf: html.match(/name="_csrf" value="([^"]+)"/)![1],
    response: page,
  };
}

function post(
  app: Awaited<ReturnType<typeof setup>>["app"],
  fields: { cookie: string; csrf: string; password?: string; session?: string },
  base = "http://h",
) {
  const cookies = [`fastmta_login=${fields.cookie}`];
  if (fields.session) cookies.push(`fastmta_session=${fields.session}`);
  return app.request(`${base}/login`, {
    method: "POST",
    headers: { cookie: cookies.join("; ") },
    body: new URLSearchParams({
      _csrf: fields.csrf,
      username: "alice",
      password: fields.password ?? PASSWORD,
    }),
  });
}

Deno.test("a planted pre-session cookie with a matching field does not log in", async () => {
  await using dir = tempDir();
  const { app, store } = await setup(dir.path);
  try {
    const { cookie, csrf } = await loginForm(app);
    assert(cookie !== csrf, "the form token is not the cookie (no plain double-submit)");
    assertEquals((await post(app, { cookie: "aaa", csrf: "aaa" })).status, 403);
    const planted = "a".repeat(43); // well-formed, but its token needs the server's key
    assertEquals((await post(app, { cookie: planted, csrf: planted })).status, 403);
    assertEquals((await post(app, { cookie, csrf: "aaa" })).status, 403);
    const ok = await post(app, { cookie, csrf });
    assertEquals(ok.status, 302);
    assert(cookieValue(ok, "fastmta_session"));
  } finally {
    await store.close();
  }
});

Deno.test("failed logins lock the login for the address; the right password is refused", async () => {
  await using dir = tempDir();
  const { app, store } = await setup(dir.path, { max_failures: 5 });
  try {
    for (let i = 0; i < 5; i++) {
      const form = await loginForm(app);
      assertEquals((await post(app, { ...form, password: `wrong-${i}` })).status, 401);
    }
    const form = await loginForm(app);
    const locked = await post(app, form);
    assertEquals(locked.status, 429);
    assert(Number(locked.headers.get("retry-after")) > 0);
    assertMatch(await locked.text(), /Too many failed logins/);
    assertEquals(setCookie(locked, "fastmta_session"), undefined, "no session while locked");
  } finally {
    await store.close();
  }
});

Deno.test("the throttle counts per address and per user name", () => {
  const throttle = new LoginThrottle({
    max_failures: 3,
    max_failures_per_user: 4,
    failure_window: 60_000,
  });
  for (let i = 0; i < 3; i++) throttle.failed("127.0.0.2", "bob");
  assertEquals(throttle.locked("127.0.0.2", "carol")?.by, "address");
  assertEquals(throttle.locked("127.0.0.3", "bob"), null, "another address, under the user limit");
  throttle.failed("127.0.0.4", "bob");
  assertEquals(throttle.locked("127.0.0.5", "bob")?.by, "user", "spread over addresses");
  assertEquals(throttle.locked("127.0.0.5", "carol"), null);
});

Deno.test("login makes a new session id and ends the one the browser brought", async () => {
  await using dir = tempDir();
  const { app, store } = await setup(dir.path);
  try {
    const first = await post(app, await loginForm(app));
    const planted = cookieValue(first, "fastmta_session");
    assert(planted);
    // The same browser (or one a planted id was pushed into) logs in again.
    const second = await post(app, { ...(await loginForm(app)), session: planted });
    const fresh = cookieValue(second, "fastmta_session");
    assert(fresh && fresh !== planted, "a new session id at login");
    const old = await app.request("/", { headers: { cookie: `fastmta_session=${planted}` } });
    assertEquals(old.status, 302, "the id from before the login is no longer a session");
    const now = await app.request("/", { headers: { cookie: `fastmta_session=${fresh}` } });
    assertEquals(now.status, 200);
  } finally {
    await store.close();
  }
});

Deno.test("cookies carry Secure over TLS only; pages and API answers are no-store", async () => {
  await using dir = tempDir();
  const { app, store } = await setup(dir.path);
  try {
    const plain = await loginForm(app, "http://h");
    assert(!/;\s*Secure/i.test(setCookie(plain.response, "fastmta_login")!));
    const tls = await loginForm(app, "https://h");
    const preCookie = setCookie(tls.response, "fastmta_login")!;
    assertMatch(preCookie, /;\s*Secure/i);
    assertMatch(preCookie, /;\s*HttpOnly/i);
    assertMatch(preCookie, /;\s*SameSite=Strict/i);
    const login = await post(app, tls, "https://h");
    assertEquals(login.status, 302);
    assertMatch(setCookie(login, "fastmta_session")!, /;\s*Secure/i);
    assertMatch(setCookie(login, "fastmta_session")!, /;\s*HttpOnly/i);

    assertEquals(tls.response.headers.get("cache-control"), "no-store");
    const api = await app.request("/api/v1/queue", {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assertEquals(api.headers.get("cache-control"), "no-store");
    const unauthorized = await app.request("/api/v1/queue");
    assertEquals(unauthorized.headers.get("cache-control"), "no-store");
    const health = await app.request("/healthz");
    assertEquals(health.headers.get("cache-control"), "no-store");
    const asset = await app.request("/static/islands.js");
    assert(asset.headers.get("cache-control") !== "no-store", "static assets may cache");
    await asset.body?.cancel();
  } finally {
    await store.close();
  }
});

Deno.test("every state-changing route refuses a session request without its CSRF token", async () => {
  await using dir = tempDir();
  const { app, store } = await setup(dir.path);
  try {
    const login = await post(app, await loginForm(app));
    const session = cookieValue(login, "fastmta_session");
    const mutations = app.routes.filter((r) =>
      !["GET", "HEAD", "OPTIONS", "ALL"].includes(r.method)
    )
      // Logging in has its own token (the pre-session); sending is checked below; one-click
      // unsubscribe (RFC 8058) is a public POST carrying its own signed token, no session.
      .filter((r) =>
        r.path !== "/login" && !r.path.startsWith("/unsubscribe") &&
        !(r.path === "/api/v1/messages" && r.method === "POST")
      );
    const seen = new Set<string>();
    for (const route of mutations) {
      const path = route.path.replace(/:[a-z_]+/g, "x");
      const key = `${route.method} ${path}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const forged = await app.request(path, {
        method: route.method,
        headers: { cookie: `fastmta_session=${session}` },
        body: new URLSearchParams({ _csrf: "aaa" }),
      });
      assertEquals(forged.status, 403, `${key} without the session's CSRF token`);
      await forged.body?.cancel();
    }
    assert(seen.size >= 3, `mutations found: ${[...seen].join(", ")}`);
    // Sending with a session but without its CSRF token is refused too (401 or 403).
    const send = await app.request("/api/v1/messages", {
      method: "POST",
      headers: { cookie: `fastmta_session=${session}`, "content-type": "application/json" },
      body: JSON.stringify({ from: "", to: ["a@b.test"], text: "x" }),
    });
    assert([401, 403].includes(send.status), `send with a bare session: ${send.status}`);
    await send.body?.cancel();
  } finally {
    await store.close();
  }
});
