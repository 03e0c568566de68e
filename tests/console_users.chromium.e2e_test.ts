/**
 * The console users page and the message page's details in real headless Chromium against a
 * real server: an admin adds an operator (the password twice), the operator logs in; the last
 * admin cannot be demoted (the error is shown on its row); the admin makes the new user admin
 * and removes them after the confirmation; a viewer sees no mutating control and a forged post
 * gets 403. A message sent over SMTP shows its headers and its DKIM state; the TLS page shows
 * the listeners' certificate. The pages pass
 * axe-core (no serious or critical violation) and fit a 390 px phone.
 */
import type { Page } from "playwright-core";
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import {
  assertAccessible,
  assertFitsPhone,
  checkPage,
  HAVE_CHROMIUM,
  launchChromium,
  loggedIn,
} from "./helpers/console_browser.ts";
import { E2E_DOMAIN, startE2eFixture } from "./helpers/e2e_fixture.ts";
import { sendWithSwaks } from "./helpers/server_process.ts";
import { waitUntil } from "./helpers/wait.ts";

Deno.test({
  name: "console: console users page and message details in Chromium",
  ignore: !HAVE_CHROMIUM,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using e2e = await startE2eFixture({ prefix: "fastmta-console-users-ui-" });
    const server = await e2e.start(e2e.nodeConfig());
    const base = server.adminUrl!;
    const browser = await launchChromium();
    try {
      const file = await waitUntil(() => server.logs().match(/its password is in (\S+)/)?.[1]);
      const password = (await Deno.readTextFile(file)).trim();
      const page: Page = await loggedIn(browser, base, "admin", password);

      // Add an operator: the passwords must match.
      const addUser = async (name: string, role: string, again: string) => {
        await page.goto(`${base}/console-users`);
        await page.fill("#f-username", name);
        await page.fill("#f-password", "operator-password-1");
        await page.fill("#f-password_again", again);
        await page.selectOption("#f-role", role);
        await page.click("button:has-text('Add user')");
      };
      await addUser("olga", "operator", "something-else-1");
      await page.waitForSelector('[data-error="password_again"]');
      await assertAccessible(page, "console users with an error");
      await addUser("olga", "operator", "operator-password-1");
      await page.waitForSelector('[data-console-user="olga"][data-role="operator"]');
      await page.waitForSelector("[role=status]");
      const olga = await loggedIn(browser, base, "olga", "operator-password-1");
      await olga.goto(`${base}/console-users`);
      assertEquals(
        await olga.locator("form[method=post]:not([action='/logout'])").count(),
        0,
        "an operator sees no mutating control",
      );
      const csrf = await olga.getAttribute("meta[name=csrf-token]", "content");
      const forged = await olga.evaluate(async (csrf) => {
        const body = new URLSearchParams({ role: "admin", _csrf: csrf });
        return (await fetch("/console-users/role?id=olga", { method: "POST", body })).status;
      }, csrf ?? "");
      assertEquals(forged, 403);

      // The last admin cannot be demoted: the error is on its row, nothing changes.
      await page.goto(`${base}/console-users`);
      await page.selectOption('[data-console-user="admin"] select[name=role]', "viewer");
      await page.click('[data-console-user="admin"] button:has-text("Change role")');
      assertMatch(
        await page.textContent('[data-console-user="admin"] [data-error="role"]') ?? "",
        /last admin/,
      );
      await page.waitForSelector('[data-console-user="admin"][data-role="admin"]');
      await page.waitForSelector('[data-console-user="olga"][data-role="operator"]');
      await checkPage(page, "console-users");

      // Promote, then remove after the confirmation.
      await page.selectOption('[data-console-user="olga"] select[name=role]', "admin");
      await page.click('[data-console-user="olga"] button:has-text("Change role")');
      await page.waitForSelector('[data-console-user="olga"][data-role="admin"]');
      await page.click('[data-console-user="olga"] a:has-text("Remove")');
      await assertAccessible(page, "remove console user");
      await page.click("button:has-text('Remove')");
      await page.waitForSelector("[role=status]");
      assertEquals(await page.locator('[data-console-user="olga"]').count(), 0);

      // A message's page shows its headers and DKIM state.
      const sent = await sendWithSwaks({
        server: server.smtpAddress,
        from: "sender@example.test",
        to: [`rcpt@${E2E_DOMAIN}`],
        data: "From: Sender <sender@example.test>\r\nSubject: details in chromium\r\n\r\nHi\r\n",
      });
      assert(sent.code === 0 && sent.queueId, sent.stdout + sent.stderr);
      await page.goto(`${base}/messages/${sent.queueId}`);
      assertMatch(await page.textContent('[data-header="subject"]') ?? "", /details in chromium/);
      await page.waitForSelector("[data-dkim=none]");
      await assertAccessible(page, "message details");
      await assertFitsPhone(page, "message details");

      // The listeners' TLS certificates (the node's self-signed pair made at start).
      await page.goto(`${base}/config/tls`);
      await page.waitForSelector("[data-listener] [data-subject]");
      await checkPage(page, "tls-certificates");
    } catch (error) {
      e2e.dump();
      throw error;
    } finally {
      await browser.close();
      await server.stop();
    }
  },
});
