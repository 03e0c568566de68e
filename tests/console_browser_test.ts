/**
 * The admin console in real headless Chromium (Debian's, driven by playwright-core): first-run
 * login with the logged password, the live queue island, message pages, CSRF refusal, logout.
 */
import { chromium } from "playwright-core";
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { freePort, tempDir } from "./helpers/net.ts";
import { makeServerConfig, sendWithSwaks, startServer } from "./helpers/server_process.ts";
import { startSmtpSink } from "./helpers/smtp_sink.ts";
import { startDnsServer } from "./helpers/dns_server.ts";
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
    await using dir = tempDir("fastmta-console-");
    const sink = await startSmtpSink({ hostname: "127.0.0.1" });
    const dns = await startDnsServer({
      zones: {
        "dest.test": { MX: [{ preference: 10, exchange: "mx.dest.test" }] },
        "mx.dest.test": { A: ["127.0.0.1"] },
      },
    });
    const config = makeServerConfig({
      dataDir: `${dir.path}/data`,
      smtpPort: freePort(),
      adminPort: freePort(),
      dnsPort: dns.port,
      remotePort: sink.port,
      outboundIps: [],
    });
    const server = await startServer({ config });
    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: CHROMIUM_FLAGS,
    });
    try {
      const password = await waitUntil(() => server.logs().match(/with password "([^"]+)"/)?.[1]);
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
        to: ["b@dest.test"],
        data: "Subject: console\r\n\r\nhello\r\n",
      });
      assert(sent.queueId, sent.stdout);
      await sink.waitForMessages(1);
      await page.locator("[data-count=delivered]", { hasText: /^1$/ }).waitFor({ timeout: 20_000 });
      await page.screenshot({
        path: Deno.env.get("FASTMTA_SCREENSHOT") ?? `${dir.path}/dashboard.png`,
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
      await sink.close();
      await dns.close();
    }
  },
});
