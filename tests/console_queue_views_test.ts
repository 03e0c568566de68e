/**
 * The queue page's views by domain, pool and vmta (tabs, one row shape) and their REST twin
 * `GET /api/v1/queue/by/{by}`: counts by state, a row's Pause adds a pause of that scope (back
 * to the same tab) and the row then offers Resume; an unknown grouping is a 400 naming `by`.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { ADMIN_TOKEN, adminFixture, loginSession } from "./helpers/admin_fixture.ts";
import { QueueService } from "../core/manage/queue_service.ts";

/** `text` contains `part`. */
function assertStringIncludes(text: string, part: string) {
  assert(text.includes(part), `expected ${JSON.stringify(part)} in the answer`);
}

Deno.test("console queue views: by domain, pool and vmta, pause and resume per row, REST", async () => {
  await using dir = tempDir();
  const { app, store, auth, config, context } = await adminFixture(dir.path);
  // The pages and the queue API read the context per request: pauses need the queue service.
  const queueOps = new QueueService(store, config, () => {});
  context.queueOps = queueOps;
  try {
    const { get, post } = await loginSession(app, auth, "alice");
    const page = async (path: string) => {
      const { status, html } = await get(path);
      assertEquals(status, 200, path);
      return html;
    };
    // The fixture: y.test deferred (from 127.0.0.10), z.test quarantined (never tried).
    const byDomain = await page("/queue");
    assertStringIncludes(byDomain, 'data-domain="y.test"');
    assertStringIncludes(byDomain, 'data-domain="z.test"');
    assertStringIncludes(byDomain, 'aria-current="page"');
    const byPool = await page("/queue?by=pool");
    assertStringIncludes(byPool, "(no pool)");
    const byVmta = await page("/queue?by=vmta");
    assertStringIncludes(byVmta, 'data-vmta="127.0.0.10"');
    assertStringIncludes(byVmta, "(not tried yet)");
    assertStringIncludes(byVmta, "/messages?vmta=127.0.0.10");
    assertEquals(await page("/queue?by=nonsense"), byDomain, "an unknown tab shows domains");

    const api = async (path: string) => {
      const response = await app.request(path, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      return { status: response.status, body: await response.json() };
    };
    const vmta = await api("/api/v1/queue/by/vmta");
    assertEquals(vmta.status, 200);
    assertEquals(vmta.body.by, "vmta");
    const row = vmta.body.rows.find((r: { key: string }) => r.key === "127.0.0.10");
    assertEquals([row.deferred, row.total, row.pause_id], [1, 1, null]);
    const bad = await api("/api/v1/queue/by/nonsense");
    assertEquals(bad.status, 400);
    assertStringIncludes(JSON.stringify(bad.body), "by");

    // Pause a vmta from its row: back on the vmta tab, the row now offers Resume.
    const paused = await post("/queue/pauses", {
      source_kind: "vmta",
      source: "127.0.0.10",
      by: "vmta",
    });
    assertEquals(paused.status, 302);
    assertEquals(paused.location, "/queue?by=vmta");
    const pauseId = (await api("/api/v1/queue/by/vmta")).body.rows
      .find((r: { key: string }) => r.key === "127.0.0.10").pause_id;
    assert(pauseId, "the row names its pause");
    assertStringIncludes(await page("/queue?by=vmta"), `/queue/pauses/${pauseId}/remove`);
    // The domain view's rows are not paused by a vmta pause.
    const domains = (await api("/api/v1/queue/by/domain")).body.rows;
    assertEquals(domains.map((r: { pause_id: string | null }) => r.pause_id), [null, null]);
    const resumed = await post(`/queue/pauses/${pauseId}/remove`, { by: "vmta" });
    assertEquals(resumed.location, "/queue?by=vmta");
    assertEquals(
      (await api("/api/v1/queue/by/vmta")).body.rows.map((r: { pause_id: null }) => r.pause_id),
      [null, null],
    );
  } finally {
    await queueOps.close();
    await store.close();
  }
});
