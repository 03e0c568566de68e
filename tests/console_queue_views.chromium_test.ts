/**
 * The queue page's views (by domain, pool and vmta) in real headless Chromium against the
 * admin app over the fixture's store (tests/helpers/admin_fixture.ts, served on a loopback
 * port): the tabs switch views, the vmta tab shows the never-tried unit as "(not tried yet)"
 * with no Pause, a vmta row's Pause lands back on the vmta tab with Resume offered and the pause
 * listed, Resume takes it away. Each tab passes axe-core and fits a 390 px phone.
 */
import type { Page } from "playwright-core";
import { assertEquals } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { adminFixture } from "./helpers/admin_fixture.ts";
import {
  assertAccessible,
  assertFitsPhone,
  HAVE_CHROMIUM,
  launchChromium,
  loggedIn,
} from "./helpers/console_browser.ts";
import { QueueService } from "../core/manage/queue_service.ts";

Deno.test({
  name: "console queue views in Chromium: tabs, (not tried yet), pause and resume a vmta",
  ignore: !HAVE_CHROMIUM,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using dir = tempDir();
    const { app, store, config, context } = await adminFixture(dir.path);
    const queueOps = new QueueService(store, config, () => {});
    context.queueOps = queueOps;
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (request) => app.fetch(request),
    );
    const base = `http://127.0.0.1:${server.addr.port}`;
    const browser = await launchChromium();
    try {
      const page: Page = await loggedIn(browser, base, "alice", "correct horse battery");
      const check = async (name: string) => {
        await assertAccessible(page, name);
        await assertFitsPhone(page, name);
      };

      // By domain (the default tab): the fixture's deferred y.test and quarantined z.test.
      await page.goto(`${base}/queue`);
      await page.waitForSelector("[data-tab=domain][aria-current=page]");
      await page.waitForSelector('[data-domain="y.test"]');
      await page.waitForSelector('[data-domain="z.test"]');
      await check("queue by domain");

      // By pool: neither message names one.
      await page.click("[data-tab=pool]");
      await page.waitForURL(`${base}/queue?by=pool`);
      assertEquals(await page.textContent('[data-pool=""] td'), "(no pool)");
      await check("queue by pool");

      // By vmta: the deferred unit's source IP, and the quarantined unit never tried.
      await page.click("[data-tab=vmta]");
      await page.waitForURL(`${base}/queue?by=vmta`);
      const tried = page.locator('[data-vmta="127.0.0.10"]');
      const untried = page.locator('[data-vmta=""]');
      assertEquals(await untried.locator("td").first().textContent(), "(not tried yet)");
      assertEquals(await untried.locator("button").count(), 0, "no pause for untried units");
      assertEquals(await tried.locator("td").nth(2).textContent(), "1", "one deferred");
      await check("queue by vmta");

      // Pause that vmta from its row: back on the vmta tab, Resume offered, the pause listed.
      await tried.locator("button:has-text('Pause')").click();
      await page.waitForURL(`${base}/queue?by=vmta`);
      await tried.locator("button:has-text('Resume')").waitFor();
      assertEquals((await store.listPauses()).length, 1);
      await check("queue by vmta, paused");
      await tried.locator("button:has-text('Resume')").click();
      await page.waitForURL(`${base}/queue?by=vmta`);
      await tried.locator("button:has-text('Pause')").waitFor();
      assertEquals((await store.listPauses()).length, 0);
    } finally {
      await browser.close();
      await server.shutdown();
      await queueOps.close();
      await store.close();
    }
  },
});
