/**
 * The console users page through app.request on a real SQLite store: an admin adds a user (the
 * password twice; a mismatch or a short one is shown by its field and stores nothing), changes
 * a role and removes a user after a confirmation; the last admin cannot be demoted nor removed
 * (the error is shown on its row); a viewer and an operator see no control and their forged
 * posts are 403; a post without the CSRF token is refused.
 */
import { consoleUserObjects } from "../core/manage/console_users.ts";
import type { ObjectService } from "../core/manage/types.ts";
import { adminApp, type AdminContext } from "../routes/mod.ts";
import { adminFixture, consoleSession, loginSession } from "./helpers/admin_fixture.ts";
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";

Deno.test("console users page: add, change role, remove, last admin kept, roles, CSRF", async () => {
  await using dir = tempDir();
  const fixture = await adminFixture(dir.path);
  const { store, auth } = fixture;
  try {
    const consoleUsers = consoleUserObjects(store) as unknown as ObjectService;
    const web = adminApp({
      ...fixture.context,
      domainServices: { consoleUsers } as unknown as AdminContext["domainServices"],
    });
    // alice (the fixture's user) is the one admin so far.
    const admin = await loginSession(web, auth, "alice");
    const viewer = await consoleSession(web, auth, "vera", "viewer");
    const operator = await consoleSession(web, auth, "otto", "operator");
    const { get, post } = admin;
    const roleOf = async (name: string) => (await consoleUsers.get(name))?.body.role;

    const list = await get("/console-users");
    assertEquals(list.status, 200);
    assertMatch(list.html, /data-console-user="alice" data-role="admin"/);
    assertMatch(list.html, /data-console-user="vera" data-role="viewer"/);
    assertMatch(list.html, /action="\/console-users"/);

    // Passwords that differ, or too short: shown by the field, nothing stored, none echoed.
    const differ = await post("/console-users", {
      username: "carol",
      password: "long-enough-1",
      password_again: "long-enough-2",
      role: "operator",
    });
    assertEquals(differ.status, 400);
    assertMatch(differ.html, /data-error="password_again"[^>]*>The two passwords differ/);
    assertMatch(differ.html, /value="carol"/);
    assert(!differ.html.includes("long-enough-1"), "no password echoed");
    const short = await post("/console-users", {
      username: "carol",
      password: "short",
      password_again: "short",
      role: "operator",
    });
    assertEquals(short.status, 400);
    assertMatch(short.html, /data-error="password"[^>]*>use at least 8 characters/);
    assertEquals(await roleOf("carol"), undefined);

    const added = await post("/console-users", {
      username: "carol",
      password: "long-enough-1",
      password_again: "long-enough-1",
      role: "operator",
    });
    assertEquals(added.status, 302, added.html);
    assertEquals(await roleOf("carol"), "operator");
    assertMatch((await get(added.location!)).html, /role="status"[^>]*>Added “carol”/);
    assert(await auth.login("carol", "long-enough-1"), "carol logs in");
    const again = await post("/console-users", {
      username: "carol",
      password: "long-enough-1",
      password_again: "long-enough-1",
      role: "viewer",
    });
    assertEquals(again.status, 409);
    assertMatch(again.html, /data-error="form"[^>]*>Console user &quot;carol&quot; already exists/);

    // The last admin can be neither demoted nor removed: the error is on its row.
    const demote = await post("/console-users/role?id=alice", { role: "viewer" });
    assertEquals(demote.status, 409);
    assertMatch(demote.html, /data-error="role"[^>]*>&quot;alice&quot; is the last admin/);
    assertEquals(await roleOf("alice"), "admin");
    const removeLast = await post("/console-users/delete?id=alice", {});
    assertEquals(removeLast.status, 409);
    assertEquals(await roleOf("alice"), "admin");

    // Change a role, then remove after the confirmation.
    assertEquals((await post("/console-users/role?id=carol", { role: "admin" })).status, 302);
    assertEquals(await roleOf("carol"), "admin");
    const confirm = await get("/console-users/delete?id=carol");
    assertMatch(confirm.html, /Remove console user “carol”\?/);
    assertEquals((await post("/console-users/delete?id=carol", {})).status, 302);
    assertEquals(await roleOf("carol"), undefined);
    assertEquals(await auth.login("carol", "long-enough-1"), null);

    // A viewer and an operator see the list without controls; their posts are refused.
    for (const who of [viewer, operator]) {
      const seen = await who.get("/console-users");
      assertEquals(seen.status, 200);
      assertMatch(seen.html, /data-console-user="alice"/);
      assert(!seen.html.includes('action="/console-users'), "no mutating control");
      assertEquals((await who.post("/console-users/role?id=vera", { role: "admin" })).status, 403);
      assertEquals(
        (await who.post("/console-users", {
          username: "mallory",
          password: "long-enough-1",
          password_again: "long-enough-1",
          role: "admin",
        })).status,
        403,
      );
      assertEquals((await who.post("/console-users/delete?id=alice", {})).status, 403);
    }
    assertEquals(await roleOf("vera"), "viewer");
    assertEquals(await roleOf("mallory"), undefined);
    // Without the CSRF token even an admin's post is refused.
    const forged = await post("/console-users/role?id=vera", { role: "admin" }, { csrf: "none" });
    assertEquals(forged.status, 403);
    assertEquals(await roleOf("vera"), "viewer");
  } finally {
    await store.close();
  }
});
