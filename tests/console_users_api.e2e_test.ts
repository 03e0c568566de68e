/**
 * Console users over REST (issue 14): on a real server an admin token creates a console user
 * with POST /api/v1/console-users; the answer, the list and the audit never show the password;
 * the new user logs in through the console's login form (pre-session token) and gets the role
 * it was given (a viewer may not manage console users); a password set with PATCH replaces the
 * old one; a removed user cannot log in; the last admin cannot be removed or demoted; no
 * output of the server holds a password.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { startE2eFixture } from "./helpers/e2e_fixture.ts";
import { type ServerProcess, TEST_API_TOKEN } from "./helpers/server_process.ts";

const PASSWORD = "correct-horse-battery-41";
const NEW_PASSWORD = "another-horse-battery-42";

function api(server: ServerProcess, method: string, path: string, body?: unknown) {
  return fetch(`${server.adminUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${TEST_API_TOKEN}`,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
}

/** Logs in through the form; the session cookie, or null when refused. */
async function login(admin: string, username: string, password: string): Promise<string | null> {
  const page = await fetch(`${admin}/login`);
  const pre = page.headers.getSetCookie().find((c) => c.startsWith("fastmta_login="))!
    .split(";")[0];
  const token = (await page.text()).match(/name="_csrf" value="([^"]+)"/)![1];
  const response = await fetch(`${admin}/login`, {
    method: "POST",
    redirect: "manual",
    headers: { cookie: pre },
    body: new URLSearchParams({ _csrf: token, username, password }),
  });
  await response.body?.cancel();
  if (response.status !== 302) return null;
  return response.headers.getSetCookie().find((c) => c.startsWith("fastmta_session="))!
    .split(";")[0];
}

Deno.test("a console user created over REST logs in to the console", async () => {
  await using e2e = await startE2eFixture({ prefix: "fastmta-console-users-" });
  const server = await e2e.start(e2e.nodeConfig());
  const admin = server.adminUrl!;
  try {
    const created = await api(server, "POST", "/api/v1/console-users", {
      username: "carol",
      password: PASSWORD,
      role: "viewer",
    });
    assertEquals(created.status, 201);
    assertEquals(created.headers.get("location"), "/api/v1/console-users/carol");
    const body = await created.json();
    assertEquals(body.body, { username: "carol", role: "viewer" });
    assert(!JSON.stringify(body).includes(PASSWORD), "the password is never shown");

    // Bad input names the field and changes nothing.
    const short = await api(server, "POST", "/api/v1/console-users", {
      username: "dave",
      password: "short",
    });
    assertEquals(short.status, 400);
    const problem = await short.json() as { errors: { path: string }[] };
    assertEquals(problem.errors.map((e) => e.path), ["password"]);

    const list = await (await api(server, "GET", "/api/v1/console-users")).json() as {
      items: { id: string; body: Record<string, unknown> }[];
    };
    assertEquals(list.items.find((u) => u.id === "carol")?.body, {
      username: "carol",
      role: "viewer",
    });
    assert(!list.items.some((u) => u.id === "dave"), "nothing stored for a bad request");

    const session = await login(admin, "carol", PASSWORD);
    assert(session, "carol logs in with the password set over REST");
    const dashboard = await fetch(`${admin}/`, { headers: { cookie: session } });
    assertEquals(dashboard.status, 200);
    await dashboard.body?.cancel();
    // Her role is the one given: a viewer may not see console users.
    const asViewer = await fetch(`${admin}/api/v1/console-users`, { headers: { cookie: session } });
    assertEquals(asViewer.status, 403);
    await asViewer.body?.cancel();
    assertEquals(await login(admin, "carol", "wrong-password-123"), null);

    // A new password ends her sessions and replaces the old one.
    const patched = await api(server, "PATCH", "/api/v1/console-users/carol", {
      password: NEW_PASSWORD,
    });
    assertEquals(patched.status, 200, await patched.clone().text());
    assert(!JSON.stringify(await patched.json()).includes(NEW_PASSWORD));
    const stale = await fetch(`${admin}/`, { headers: { cookie: session }, redirect: "manual" });
    await stale.body?.cancel();
    assert(stale.status !== 200, `old session still served: ${stale.status}`);
    assertEquals(await login(admin, "carol", PASSWORD), null);
    assert(await login(admin, "carol", NEW_PASSWORD), "the new password works");

    // Promoted to admin over REST: now she may list console users.
    const promoted = await api(server, "PATCH", "/api/v1/console-users/carol", { role: "admin" });
    assertEquals(promoted.status, 200);
    await promoted.body?.cancel();
    const adminSession = (await login(admin, "carol", NEW_PASSWORD))!;
    const asAdmin = await fetch(`${admin}/api/v1/console-users`, {
      headers: { cookie: adminSession },
    });
    assertEquals(asAdmin.status, 200);
    await asAdmin.body?.cancel();

    // Audited, never with the password.
    const audit = await (await api(server, "GET", "/api/v1/audit?kind=console_user")).json() as {
      items: { action: string; object_id: string }[];
    };
    assertEquals(audit.items.map((e) => e.action).sort(), [
      "create",
      "update",
      "update (password)",
    ]);
    assert(
      !JSON.stringify(audit).includes(PASSWORD) && !JSON.stringify(audit).includes(NEW_PASSWORD),
    );

    // Removed over REST: she can no longer log in. The bootstrap "admin" is then the last admin:
    // it cannot be removed or demoted over REST.
    const removed = await api(server, "DELETE", "/api/v1/console-users/carol");
    assertEquals(removed.status, 204);
    await removed.body?.cancel();
    assertEquals(await login(admin, "carol", NEW_PASSWORD), null);
    const last = await api(server, "DELETE", "/api/v1/console-users/admin");
    assertEquals(last.status, 409);
    await last.body?.cancel();
    const demote = await api(server, "PATCH", "/api/v1/console-users/admin", { role: "viewer" });
    assertEquals(demote.status, 409);
    await demote.body?.cancel();
    const missing = await api(server, "DELETE", "/api/v1/console-users/nobody");
    assertEquals(missing.status, 404);
    await missing.body?.cancel();

    const logs = e2e.logs();
    assert(!logs.includes(PASSWORD) && !logs.includes(NEW_PASSWORD), "no password in the logs");
  } catch (error) {
    e2e.dump();
    throw error;
  }
});
