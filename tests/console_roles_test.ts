/**
 * Console pages by role: readers see the pages, only operators and admins post queue actions
 * (with the CSRF token), a sender's session sees no queue, and anyone may log out.
 */
import { assertEquals } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { adminFixture, QUARANTINED_ID } from "./helpers/admin_fixture.ts";

Deno.test("console pages: viewers read, operators act, senders see nothing, all log out", async () => {
  await using dir = tempDir();
  const { app, store, auth } = await adminFixture(dir.path);
  const sessionOf = async (name: string, role: string) => {
    await auth.addUser(name, "correct horse battery", role);
    const token = (await auth.login(name, "correct horse battery"))!;
    const csrf = (await auth.session(token))!.csrfToken;
    return { cookie: `fastmta_session=${token}`, "x-csrf-token": csrf };
  };
  const status = async (path: string, headers: Record<string, string>, method = "GET") => {
    const response = await app.request(path, { method, headers, redirect: "manual" });
    await response.body?.cancel();
    return response.status;
  };
  try {
    const viewer = await sessionOf("vera", "viewer");
    const operator = await sessionOf("otto", "operator");
    const sender = await sessionOf("sam", "sender");
    const cancel = `/messages/${QUARANTINED_ID}/cancel`;

    assertEquals(await status("/", viewer), 200);
    assertEquals(await status(`/messages/${QUARANTINED_ID}`, viewer), 200);
    assertEquals(await status(cancel, viewer, "POST"), 403);
    assertEquals(await status("/", sender), 403);
    assertEquals(await status(cancel, { cookie: operator.cookie }, "POST"), 403, "no CSRF");
    assertEquals(await status(cancel, operator, "POST"), 302);
    assertEquals(await status("/logout", viewer, "POST"), 302);
    assertEquals(await status("/logout", sender, "POST"), 302);
    assertEquals(await status("/", viewer), 302, "logged out: to the login page");
  } finally {
    await store.close();
  }
});
