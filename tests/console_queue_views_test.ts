/**
 * The queue page's views by domain, pool and vmta (tabs, one row shape) and their REST twin
 * `GET /api/v1/queue/by/{by}`: counts by state, a row's Pause adds a pause of that scope (back
 * to the same tab) and the row then offers Resume; an unknown grouping is a 400 naming `by`.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { ADMIN_TOKEN, adminFixture } from "./helpers/admin_fixture.ts";
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
    const token = (await auth.login("alice", "correct horse battery"))!;
    const csrf = (await auth.session(token))!.csrfToken;
    const headers = { cookie: `fastmta_session=${token}`, "x-csrf-token": csrf };
    const page = async (path: string) => {
      const response = await app.request(path, { headers });
      assertEquals(response.status, 200, path);
      return await response.text();
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
    const form = new URLSearchParams({
      _csrf: csrf,
      source_kind: "vmta",
      source: "127.0.0.10",
      by: "vmta",
    });
    const paused = await app.request("/queue/pauses", {
      method: "POST",
      headers: { ...headers, "content-type": "application/x-www-form-urlencoded" },
      body: form,
      redirect: "manual",
    });
    assertEquals(paused.status, 302);
    assertEquals(paused.headers.get("location"), "/queue?by=vmta");
    const pauseId = (await api("/api/v1/queue/by/vmta")).body.rows
      .find((r: { key: string }) => r.key === "127.0.0.10").pause_id;
    assert(pauseId, "the row names its pause");
    assertStringIncludes(await page("/queue?by=vmta"), `/queue/pauses/${pauseId}/remove`);
    // The domain view's rows are not paused by a vmta pause.
    const domains = (await api("/api/v1/queue/by/domain")).body.rows;
    assertEquals(domains.map((r: { pause_id: string | null }) => r.pause_id), [null, null]);
    const resumed = await app.request(`/queue/pauses/${pauseId}/remove`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ _csrf: csrf, by: "vmta" }),
      redirect: "manual",
    });
    assertEquals(resumed.headers.get("location"), "/queue?by=vmta");
    assertEquals(
      (await api("/api/v1/queue/by/vmta")).body.rows.map((r: { pause_id: null }) => r.pause_id),
      [null, null],
    );
  } finally {
    await queueOps.close();
    await store.close();
  }
});
