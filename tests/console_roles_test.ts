/**
 * Console pages by role: readers see the pages, only operators and admins post queue actions
 * (with the CSRF token), a sender's session sees no queue, and anyone may log out.
 */
import { assertEquals } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { adminFixture, consoleSession, QUARANTINED_ID } from "./helpers/admin_fixture.ts";

Deno.test("console pages: viewers read, operators act, senders see nothing, all log out", async () => {
  await using dir = tempDir();
  const { app, store, auth } = await adminFixture(dir.path);
  try {
    const viewer = await consoleSession(app, auth, "vera", "viewer");
    const operator = await consoleSession(app, auth, "otto", "operator");
    const sender = await consoleSession(app, auth, "sam", "sender");
    const cancel = `/messages/${QUARANTINED_ID}/cancel`;
    // These posts carry the CSRF token in the x-csrf-token header, with an empty form.
    const header = { csrf: "header" } as const;

    assertEquals((await viewer.get("/")).status, 200);
    assertEquals((await viewer.get(`/messages/${QUARANTINED_ID}`)).status, 200);
    assertEquals((await viewer.post(cancel, {}, header)).status, 403);
    assertEquals((await sender.get("/")).status, 403);
    assertEquals((await operator.post(cancel, {}, { csrf: "none" })).status, 403, "no CSRF");
    assertEquals((await operator.post(cancel, {}, header)).status, 302);
    assertEquals((await viewer.post("/logout", {}, header)).status, 302);
    assertEquals((await sender.post("/logout", {}, header)).status, 302);
    assertEquals((await viewer.get("/")).status, 302, "logged out: to the login page");
  } finally {
    await store.close();
  }
});
