/**
 * The console's per-message actions and the suppressions page through app.request on a real
 * SQLite store (tests/helpers/admin_fixture.ts): on a message with a deferred recipient an admin
 * holds it (the why-line says it is kept aside until released), releases it, retries it (due
 * now), and bounces it after a confirmation page; the message search form has a field for every
 * filter of the API; on /suppressions an admin adds an entry (a bad address is shown and stores
 * nothing), finds it by prefix, exports the CSV and removes it. The dashboard lists the top
 * destinations with their state (deferring, quarantined units, paused) and every node.
 */
import { domainServices } from "../cli/serve_parts.ts";
import { QueueFilterSchema } from "../core/api/queue_ops.ts";
import { openManagement } from "../core/manage/mod.ts";
import { QueueService } from "../core/manage/queue_service.ts";
import { adminApp } from "../routes/mod.ts";
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { adminFixture, consoleSession, DELIVERED_ID } from "./helpers/admin_fixture.ts";
import { tempDir } from "./helpers/net.ts";

/** Every filter field of the REST API; the console's search form is generated from it. */
const SEARCH_FIELDS = Object.keys(QueueFilterSchema.shape);

Deno.test("console actions: hold, release, retry, bounce after a confirm; suppressions page", async () => {
  await using dir = tempDir();
  const fixture = await adminFixture(dir.path);
  const { store, auth } = fixture;
  try {
    const config = fixture.context.config;
    const web = adminApp({
      ...fixture.context,
      management: openManagement(store),
      queueOps: new QueueService(store, config, () => {}),
      domainServices: domainServices(store, config),
    });
    const { get, post } = await consoleSession(web, auth, "ada", "admin");
    const why = async () =>
      (await get(`/messages/${DELIVERED_ID}`)).html.match(/data-why="([^"]*)">(.*?)<\/p>/)
        ?.slice(1) ?? [];
    const act = async (action: string) => {
      const done = await post(`/messages/${DELIVERED_ID}/act`, { action });
      assertEquals(done.status, 302, `${action}: ${done.html.slice(0, 300)}`);
    };

    const search = await get("/messages");
    for (const field of SEARCH_FIELDS) {
      assertMatch(
        search.html,
        new RegExp(`role="search"[^]*name="${field}"`),
        `search field ${field}`,
      );
    }

    assertEquals((await why())[0], "deferred");
    await act("hold");
    const held = await why();
    // An operator's hold keeps the unit aside as the quarantine does, until released.
    assertEquals(held[0], "quarantined");
    assertMatch(held[1], /quarantined: .*release it to retry/);
    await act("release");
    assert((await why())[0] !== "paused", "released");
    await act("retry");
    assertMatch((await why())[1], /due now/);

    const confirm = await get(`/messages/${DELIVERED_ID}/confirm?action=bounce`);
    assertMatch(confirm.html, /role="alertdialog"[^]*Bounce message fixture-delivered\?/);
    await act("bounce");
    assertEquals((await why())[0], "done");

    // Suppressions: add (a bad address is refused by name), search, export, remove.
    const bad = await post("/suppressions", { address: "not an address" });
    assertEquals(bad.status, 400);
    assertMatch(bad.html, /address/);
    assertEquals((await get("/suppressions")).html.includes("data-suppression="), false);
    const added = await post("/suppressions", { address: "gone@y.test", reason: "complained" });
    assertEquals(added.status, 302, added.html.slice(0, 300));
    await post("/suppressions", { address: "kept@other.test" });
    const found = await get("/suppressions?q=gone");
    assertMatch(found.html, /data-suppression="gone@y\.test"/);
    assert(!found.html.includes('data-suppression="kept@other.test"'), "prefix search");
    const csv = await get("/suppressions.csv");
    assertMatch(csv.response.headers.get("content-type") ?? "", /text\/csv/);
    assertMatch(csv.html, /gone@y\.test,[^\n]*complained/);
    const removed = await post("/suppressions/remove", { address: "gone@y.test", scope: "" });
    assertEquals(removed.status, 302);
    assert(!(await get("/suppressions")).html.includes('data-suppression="gone@y.test"'));
  } finally {
    await store.close();
  }
});

Deno.test("console dashboard: top destinations with their state, every node with its status", async () => {
  await using dir = tempDir();
  const fixture = await adminFixture(dir.path);
  const { store, auth } = fixture;
  try {
    const queueOps = new QueueService(store, fixture.context.config, () => {});
    const web = adminApp({ ...fixture.context, management: openManagement(store), queueOps });
    const { get } = await consoleSession(web, auth, "ada", "admin");
    const page = async () => (await get("/")).html;
    const stateOf = (html: string, domain: string) =>
      html.match(new RegExp(`data-destination="${domain}"[^]*?</td><td[^>]*>([^<]*)<`))?.[1];

    const before = await page();
    assertEquals(stateOf(before, "y.test"), "deferring");
    assertEquals(stateOf(before, "z.test"), "quarantined units");
    assertMatch(before, /data-node="node-fixture"[^]*?(live|not answering|stopped)/);
    assertMatch(before, /data-node="node-fixture"[^]*?data-applied/, "its applied config version");

    await queueOps.addPause({ name: "ada", role: "admin", channel: "console" }, {
      domain: "y.test",
      reason: "dashboard test",
    });
    assertEquals(stateOf(await page(), "y.test"), "paused");
  } finally {
    await store.close();
  }
});
