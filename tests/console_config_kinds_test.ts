/**
 * Every configuration area issue 15 lists, edited through its generated form on /config
 * (app.request on a real SQLite store): the index links each kind; an admin creates a pool, a
 * listener, a route, a retention and a bounce rule through the forms, each stored through the
 * management plane and audited under the admin's name; retention is edited (an invalid
 * max_age is shown next to its field and changes nothing, a valid one is saved, and saving
 * the form as shown keeps the duration: it is shown in units, since bare digits post as seconds).
 */
import { openManagement } from "../core/manage/mod.ts";
import { KIND_TITLES } from "../routes/config/view.tsx";
import { adminApp } from "../routes/mod.ts";
import { assertEquals, assertMatch } from "./helpers/assert.ts";
import { adminFixture, consoleSession } from "./helpers/admin_fixture.ts";
import { tempDir } from "./helpers/net.ts";

Deno.test("console config kinds: pools, listeners, routes, retention, bounce rules by form", async () => {
  await using dir = tempDir();
  const fixture = await adminFixture(dir.path);
  const { store, auth } = fixture;
  const management = openManagement(store);
  try {
    const web = adminApp({ ...fixture.context, management });
    const { get, post } = await consoleSession(web, auth, "ada", "admin");

    const index = await get("/config");
    for (const kind of Object.keys(KIND_TITLES)) {
      assertMatch(index.html, new RegExp(`href="/config/${kind}"`), `the index links ${kind}`);
    }

    const creations: [string, Record<string, string>, string][] = [
      ["pool", { name: "bulk", description: "newsletters", ips: '["127.0.0.20"]' }, "bulk"],
      ["listener", { ip: "127.0.0.1", port: "2525", mode: "submission" }, "127.0.0.1:2525"],
      ["route", { domain: "relay.test", host: "smarthost.test", port: "2526" }, "relay.test"],
      ["retention", { scope: "attempts", max_age: "30d" }, "attempts"],
      [
        "bounce_rule",
        { name: "full", pattern: "mailbox is full", category: "mailbox_full", priority: "10" },
        "full",
      ],
    ];
    for (const [kind, fields, id] of creations) {
      const form = await get(`/config/${kind}`);
      assertEquals(form.status, 200, kind);
      for (const name of Object.keys(fields)) {
        assertMatch(form.html, new RegExp(`name="${name}"`), `${kind} form has ${name}`);
      }
      const created = await post(`/config/${kind}`, fields);
      assertEquals(created.status, 302, `${kind}: ${created.html.slice(0, 400)}`);
      const objects = management.objects[kind as keyof typeof management.objects];
      const stored = await objects.get(id);
      assertEquals(stored?.updated_by, "ada", `${kind} ${id} stored by the form`);
      assertMatch((await get(`/config/${kind}`)).html, new RegExp(`data-object="${id}"`));
    }
    const route = await management.objects.route.get("relay.test");
    assertEquals([route?.body.host, route?.body.port], ["smarthost.test", 2526]);
    const rule = await management.objects.bounce_rule.get("full");
    assertEquals([rule?.body.category, rule?.body.priority], ["mailbox_full", 10]);

    // Retention is editable: a bad duration is named by its field and changes nothing.
    const edit = await get("/config/retention/edit?id=attempts");
    assertMatch(edit.html, /name="max_age"[^>]*value="30d"/);
    const bad = await post("/config/retention/edit?id=attempts", {
      scope: "attempts",
      max_age: "soon",
      _version: "1",
    });
    assertEquals(bad.status, 400);
    assertMatch(bad.html, /data-error="max_age"/);
    assertMatch(bad.html, /value="soon"/);
    const before = await management.objects.retention.get("attempts");
    assertEquals(before?.version, 1);
    const saved = await post("/config/retention/edit?id=attempts", {
      scope: "attempts",
      max_age: "90d",
      _version: "1",
    });
    assertEquals(saved.status, 302, saved.html.slice(0, 400));
    const after = await management.objects.retention.get("attempts");
    assertEquals(after?.version, 2);
    assertEquals(after?.body.max_age, 90 * 24 * 3600 * 1000);
    const [entry] = (await management.audit.list({ kind: "retention", limit: 1 })).items;
    assertEquals([entry.action, entry.actor], ["update", "ada"]);

    // Saving the form as shown keeps the duration (it is shown as typed units, not raw ms).
    const shown = (await get("/config/retention/edit?id=attempts")).html
      .match(/name="max_age"[^>]*value="([^"]*)"/)?.[1];
    assertEquals(shown, "90d");
    const again = await post("/config/retention/edit?id=attempts", {
      scope: "attempts",
      max_age: shown!,
      _version: "2",
    });
    assertEquals(again.status, 302, again.html.slice(0, 400));
    assertEquals(
      (await management.objects.retention.get("attempts"))?.body.max_age,
      90 * 24 * 3600 * 1000,
    );
  } finally {
    await store.close();
  }
});
