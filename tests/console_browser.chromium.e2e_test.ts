/**
 * The admin console in real headless Chromium (Debian's, driven by playwright-core): first-run
 * login with the logged password, the live queue island, message pages, CSRF refusal, logout.
 */
import { chromium } from "playwright-core";
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { E2E_DOMAIN, startE2eFixture } from "./helpers/e2e_fixture.ts";
import { sendWithSwaks } from "./helpers/server_process.ts";
import { waitUntil } from "./helpers/wait.ts";

const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

Deno.test({
  name: "console: login, live queue island, message page, CSRF, logout",
  ignore: !(await Deno.stat("/usr/bin/chromium").then(() => true, () => false)),
  async fn() {
    await using e2e = await startE2eFixture({ prefix: "fastmta-console-" });
    const { sink } = e2e;
    const server = await e2e.start(e2e.nodeConfig({ outboundIps: [] }));
    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: CHROMIUM_FLAGS,
    });
    try {
      const file = await waitUntil(() => server.logs().match(/its password is in (\S+)/)?.[1]);
      const password = (await Deno.readTextFile(file)).trim();
      const page = await browser.newPage();
      const base = server.adminUrl!;

      // Not logged in: redirected to the login page; a wrong password is refused.
      await page.goto(base + "/");
      assertMatch(page.url(), /\/login$/);
      await page.fill("input[name=username]", "admin");
      await page.fill("input[name=password]", "wrong-password");
      await page.click("button[type=submit]");
      assertMatch(await page.textContent("[role=alert]") ?? "", /Wrong user name or password/);

      await page.fill("input[name=username]", "admin");
      await page.fill("input[name=password]", password);
      await page.click("button[type=submit]");
      await page.waitForURL(base + "/");
      assertMatch(await page.textContent("h1") ?? "", /Queue on/);

      // The island hydrates and follows the queue: send a message and watch the count move.
      await page.waitForSelector("[data-live=yes]");
      const sent = await sendWithSwaks({
        server: server.smtpAddress,
        from: "a@origin.test",
        to: [`b@${E2E_DOMAIN}`],
        data: "Subject: console\r\n\r\nhello\r\n",
      });
      assert(sent.queueId, sent.stdout);
      await sink.waitForMessages(1);
      await page.locator("[data-count=delivered]", { hasText: /^1$/ }).waitFor({ timeout: 20_000 });
      await page.screenshot({
        path: Deno.env.get("FASTMTA_SCREENSHOT") ?? `${e2e.dir}/dashboard.png`,
      });

      await page.goto(base + "/messages");
      await page.click(`a[href="/messages/${sent.queueId}"]`);
      await page.waitForSelector("[data-state=delivered]");

      // A cross-site style POST without the CSRF token is refused, even with the session cookie.
      const forged = await page.evaluate(async () => {
        const response = await fetch("/logout", { method: "POST", body: new URLSearchParams({}) });
        return response.status;
      });
      assertEquals(forged, 403);

      await page.click("text=Log out");
      await page.waitForURL(base + "/login");
      const api = await page.evaluate(async () => (await fetch("/api/v1/queue")).status);
      assertEquals(api, 401);
    } finally {
      await browser.close();
      await server.stop();
    }
  },
});
