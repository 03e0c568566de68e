/**
 * Configuration pages through app.request on a real SQLite store: forms generated from the
 * kinds' schemas create and change objects through the management plane (audited), an invalid
 * value comes back next to its field with nothing changed, a viewer sees no form and a forged
 * post is refused, deletes ask first; unknown pages are the styled 404.
 */
import { openManagement } from "../core/manage/mod.ts";
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { adminFixture, consoleSession } from "./helpers/admin_fixture.ts";
import { tempDir } from "./helpers/net.ts";
import { adminApp } from "../routes/mod.ts";

Deno.test("console config pages: generated forms, field errors, roles, confirm, 404", async () => {
  await using dir = tempDir();
  const fixture = await adminFixture(dir.path);
  const { store, auth } = fixture;
  const management = openManagement(store);
  try {
    const web = adminApp({ ...fixture.context, management });
    const admin = await consoleSession(web, auth, "ada", "admin");
    const viewer = await consoleSession(web, auth, "vera", "viewer");
    const { get, post } = admin;

    const index = await get("/config");
    assertEquals(index.status, 200);
    assertMatch(index.html, /Virtual MTAs/);
    const form = await get("/config/vmta");
    assertMatch(form.html, /name="hostname"/);
    assertMatch(form.html, /name="warmup"/, "a list is a JSON box");

    // An invalid host name: shown next to the field, the typed values kept, nothing stored.
    const bad = await post("/config/vmta", { ip: "127.0.0.12", hostname: "bad host" });
    assertEquals(bad.status, 400);
    assertMatch(bad.html, /data-error="hostname"[^>]*>Expected a host name/);
    assertMatch(bad.html, /value="127\.0\.0\.12"/);
    assertEquals((await management.objects.vmta.list({})).items.length, 0);

    const created = await post("/config/vmta", {
      ip: "127.0.0.12",
      hostname: "mta12.example.test",
      weight: "2",
      enabled: "true",
    });
    assertEquals(created.status, 302, created.html);
    const vmta = await management.objects.vmta.get("127.0.0.12");
    assertEquals(vmta?.body.weight, 2);
    assertEquals(vmta?.updated_by, "ada");

    // Nested fields: a shaping rule's rule.max_connections; a wrong type is named by its path.
    const wrong = await post("/config/shaping_rule", {
      pattern: "example.org",
      "rule.max_connections": "zero",
    });
    assertEquals(wrong.status, 400);
    assertMatch(wrong.html, /data-error="rule\.max_connections"/);
    const rule = await post("/config/shaping_rule", {
      pattern: "example.org",
      "rule.max_connections": "3",
      "rule.paused": "true",
      "rule.retry_schedule": '["1m","5m"]',
    });
    assertEquals(rule.status, 302, rule.html);
    const stored = await management.objects.shaping_rule.get("example.org");
    assertEquals(stored?.body.rule.max_connections, 3);
    assertEquals(stored?.body.rule.paused, true);

    // Edit round trip keeps what was stored; a stale version is refused, nothing changed.
    const edit = await get(`/config/vmta/edit?id=127.0.0.12`);
    assertMatch(edit.html, /value="mta12\.example\.test"/);
    const saved = await post(`/config/vmta/edit?id=127.0.0.12`, {
      ip: "127.0.0.12",
      hostname: "mta12b.example.test",
      _version: "1",
    });
    assertEquals(saved.status, 302, saved.html);
    const stale = await post(`/config/vmta/edit?id=127.0.0.12`, {
      ip: "127.0.0.12",
      hostname: "mta12c.example.test",
      _version: "1",
    });
    assertEquals(stale.status, 400);
    assertMatch(stale.html, /version 2; re-read it/);
    assertEquals(
      (await management.objects.vmta.get("127.0.0.12"))?.body.hostname,
      "mta12b.example.test",
    );

    // A viewer sees the objects but no form, and a forged post is refused.
    const seen = await viewer.get("/config/vmta");
    assertEquals(seen.status, 200);
    assert(!seen.html.includes('action="/config/vmta"'), "no create form for a viewer");
    assertEquals(
      (await viewer.post("/config/vmta", { ip: "127.0.0.13", hostname: "x" })).status,
      403,
    );
    // No CSRF token: refused, styled.
    const noCsrf = await post("/config/vmta", { ip: "127.0.0.13", hostname: "x" }, {
      csrf: "none",
    });
    assertEquals(noCsrf.status, 403);
    assertMatch(noCsrf.html, /CSRF/);

    // Delete asks first, then deletes.
    const confirm = await get(`/config/vmta/delete?id=127.0.0.12`);
    assertMatch(confirm.html, /Delete vmta “127\.0\.0\.12”\?/);
    const deleted = await post(`/config/vmta/delete?id=127.0.0.12`, { _version: "2" });
    assertEquals(deleted.status, 302);
    assertEquals(await management.objects.vmta.get("127.0.0.12"), null);

    // The audit log shows the delete with its diff; reverting it brings the vmta back.
    const [entry] = (await management.audit.list({ kind: "vmta", limit: 1 })).items;
    assertEquals(entry.action, "delete");
    const log = await get("/audit");
    assertMatch(log.html, new RegExp(`data-audit="${entry.id}"`));
    const diff = await get(`/audit/${entry.id}`);
    assertMatch(diff.html, /data-diff="yes"/);
    assertMatch(
      diff.html,
      /bg-red-100[^>]*>- +&quot;hostname&quot;: &quot;mta12b\.example\.test&quot;/,
    );
    assertMatch(diff.html, /Revert this change/);
    assert(!(await viewer.get(`/audit/${entry.id}`)).html.includes("Revert this change"));
    assertEquals((await viewer.post(`/audit/${entry.id}/revert`, {})).status, 403);
    const reverted = await post(`/audit/${entry.id}/revert`, {});
    assertEquals(reverted.status, 302, reverted.html);
    assertEquals(
      (await management.objects.vmta.get("127.0.0.12"))?.body.hostname,
      "mta12b.example.test",
    );

    const missing = await get("/no-such-page");
    assertEquals(missing.status, 404);
    assertMatch(missing.html, /Page not found/);
    assertMatch(missing.html, /<header/);
  } finally {
    await store.close();
  }
});
