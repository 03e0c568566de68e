/**
 * The console over the management plane in real headless Chromium, against a real server, the
 * real sink and DNS on loopback: the dashboard's counters and chart move when a message is
 * sent; a search by recipient finds it and a bulk retry previews its count and runs; a pause
 * added on the queue page holds the next message, whose page says "held by pause …", until it
 * is resumed; a sending domain added in the UI shows its DKIM record, and its live DNS check turns
 * green once the record is published; a CSV of suppressions
 * imported in the UI suppresses the next message to one of them; an API key made in the UI
 * is shown once; a vmta 127.0.0.12 added in the configuration pages sends the next message; a shaping
 * rule pausing the destination, added in the UI, holds the next one until it is lifted (no
 * restart); an invalid value is shown next to its field and changes nothing; the audit page
 * shows the diff; the delivery log tails live with its filter; a viewer sees no mutating control and a forged post gets 403; a form without
 * the CSRF token is refused. Every page (the login page, a bulk job and a delete confirmation
 * too) passes axe-core (no serious or critical violation); each main page fits a 390 px phone
 * and is screenshotted into docs/screenshots/.
 */
import { Buffer } from "node:buffer";
import type { Page } from "playwright-core";
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import {
  assertAccessible,
  assertSkipLink,
  checkPage,
  HAVE_CHROMIUM,
  launchChromium,
  loggedIn,
} from "./helpers/console_browser.ts";
import { E2E_DOMAIN, startE2eFixture } from "./helpers/e2e_fixture.ts";
import { adminApi, runCli, sendWithSwaks } from "./helpers/server_process.ts";
import { waitUntil } from "./helpers/wait.ts";

interface NodesBody {
  nodes: { details: { objects_version?: number } }[];
}

Deno.test({
  name: "console: dashboard moves, vmta and shaping rule added in the UI apply live, roles, CSRF",
  ignore: !HAVE_CHROMIUM,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using e2e = await startE2eFixture({ prefix: "fastmta-console-manage-" });
    const config = e2e.nodeConfig(); // sends from 127.0.0.10 (vmta1.test)
    const configPath = await e2e.writeConfig(config);
    const server = await e2e.start(config);
    const base = server.adminUrl!;
    const browser = await launchChromium();
    let delivered = 0;
    const send = async (subject: string) => {
      const sent = await sendWithSwaks({
        server: server.smtpAddress,
        from: "sender@example.test",
        to: [`rcpt@${E2E_DOMAIN}`],
        data: `Subject: ${subject}\r\n\r\nHello\r\n`,
      });
      assert(sent.code === 0 && sent.queueId, sent.stdout + sent.stderr);
      return sent.queueId!;
    };
    const arrives = async (subject: string) => {
      const messages = await e2e.sink.waitForMessages(++delivered, 30_000);
      const got = messages.find((m) => m.text().includes(`Subject: ${subject}`));
      assert(got, `message ${subject} at the sink`);
      return got;
    };
    /** Waits until the node has applied the cluster's config version shown on `page`. */
    const applied = async () => {
      const { body } = await adminApi<{ items: { config_version: number }[] }>(
        server,
        "/api/v1/audit?limit=1",
      );
      const version = body.items[0].config_version;
      await waitUntil(async () => {
        const nodes = await adminApi<NodesBody>(server, "/api/v1/nodes");
        return (nodes.body.nodes[0]?.details.objects_version ?? 0) >= version;
      }, { timeoutMs: 20_000, message: `config version ${version} applied` });
    };
    const createInForm = async (page: Page, kind: string, fields: Record<string, string>) => {
      await page.goto(`${base}/config/${kind}`);
      for (const [name, value] of Object.entries(fields)) {
        const control = page.locator(`form [name="${name}"]`);
        if (await control.evaluate((e) => e.tagName) === "SELECT") {
          await control.selectOption(value);
        } else await control.fill(value);
      }
      await page.click("form button:has-text('Create')");
    };
    try {
      const file = await waitUntil(() => server.logs().match(/its password is in (\S+)/)?.[1]);
      const password = (await Deno.readTextFile(file)).trim();
      const page = await loggedIn(browser, base, "admin", password);

      // Dashboard: counters and chart follow a delivered message.
      await page.waitForSelector("[data-chart-live=yes]");
      await page.waitForSelector("[data-chart=rates] canvas");
      await checkPage(page, "dashboard-empty");
      const first = await send("first");
      await arrives("first");
      await page.locator("[data-total=delivered]", { hasText: /^1$/ }).waitFor({
        timeout: 20_000,
      });
      await page.locator("[data-total=accepted]", { hasText: /^1$/ }).waitFor();
      assertMatch(await page.textContent("[data-node]") ?? "", /live/);
      await checkPage(page, "dashboard");

      // The message list and the message.
      await page.goto(`${base}/messages`);
      await checkPage(page, "messages");
      await page.click(`a[href="/messages/${first}"]`);
      await page.waitForSelector("[data-state=delivered]");
      await checkPage(page, "message");

      // Configuration: an invalid value is shown by its field and nothing is stored.
      await page.goto(`${base}/config`);
      await checkPage(page, "configuration");
      await createInForm(page, "vmta", { ip: "127.0.0.12", hostname: "bad host" });
      assertMatch(await page.textContent('[data-error="hostname"]') ?? "", /host name/);
      assertEquals(await page.getAttribute('[name="hostname"]', "aria-invalid"), "true");
      await checkPage(page, "configuration-error");
      assertEquals(await page.locator(`[data-object="127.0.0.12"]`).count(), 0);

      // A vmta 127.0.0.12 added in the UI sends the next message.
      await createInForm(page, "vmta", {
        ip: "127.0.0.12",
        hostname: "vmta12.test",
        weight: "1000",
      });
      await page.waitForSelector("[role=status]");
      await checkPage(page, "configuration-vmta");
      await applied();
      await send("from-vmta12");
      const added = await arrives("from-vmta12");
      assertEquals(added.remoteAddress, "127.0.0.12");
      assertEquals(added.helo, "vmta12.test");

      // Search by recipient finds the first message.
      await page.goto(`${base}/messages`);
      await page.fill("form[role=search] [name=recipient]", `rcpt@${E2E_DOMAIN}`);
      await page.click("form[role=search] button[type=submit]");
      await page.waitForSelector(`[data-unit] a[href="/messages/${first}"]`);
      assertMatch(page.url(), /recipient=rcpt%40/);
      await checkPage(page, "search");
      // A bulk retry over the search: the count first, then the job's progress.
      await page.selectOption("select[name=action]", "retry");
      await page.click("button:has-text('Preview')");
      assertEquals(await page.getAttribute("[data-bulk-count]", "data-bulk-count"), "2");
      await checkPage(page, "bulk-preview");
      await page.click("form[action='/messages/bulk'] button[type=submit]");
      await page.waitForSelector("[data-job-state=done]", { timeout: 20_000 });
      await assertAccessible(page, "bulk job");

      // Pause the domain on the queue page: the next message says why it waits; resume.
      await page.goto(`${base}/queue`);
      await page.fill("form[action='/queue/pauses'] [name=domain]", E2E_DOMAIN);
      await page.fill("form[action='/queue/pauses'] [name=reason]", "console test");
      await page.click("form[action='/queue/pauses'] button:has-text('Add pause')");
      const pauseId = await page.getAttribute("[data-pause]", "data-pause");
      await waitUntil(
        () => server.logs().includes(`pause ${pauseId} (domain ${E2E_DOMAIN}) in force`),
        { timeoutMs: 20_000, message: "the server to read the pause" },
      );
      const paused = await send("paused");
      await page.goto(`${base}/messages/${paused}`);
      let why = "";
      await waitUntil(async () => {
        await page.reload();
        why = await page.textContent("[data-why]") ?? "";
        if (/held by pause/.test(why)) return true;
        throw new Error(`the why-line says "${why}"`);
      }, { timeoutMs: 20_000, message: "the why-line names the pause" });
      assertMatch(await page.textContent("[data-why]") ?? "", new RegExp(E2E_DOMAIN));
      await checkPage(page, "message-held");
      await page.goto(`${base}/queue`);
      await page.waitForSelector(`[data-domain="${E2E_DOMAIN}"]`);
      await checkPage(page, "queue");
      await page.click(`[data-domain="${E2E_DOMAIN}"] button:has-text('Resume')`);
      await arrives("paused");
      await page.goto(`${base}/messages/${paused}`);
      await page.waitForSelector("[data-why=done]");

      // A shaping rule pausing the destination holds the next message until it is lifted.
      await createInForm(page, "shaping_rule", { pattern: E2E_DOMAIN, "rule.paused": "true" });
      await page.waitForSelector("[role=status]");
      await applied();
      const held = await send("held");
      await page.goto(`${base}/messages/${held}`);
      await page.waitForSelector("[data-state]");
      assertEquals(e2e.sink.messages.length, delivered, "held while the rule pauses it");
      await page.goto(`${base}/config/shaping_rule/edit?id=${encodeURIComponent(E2E_DOMAIN)}`);
      await page.selectOption('[name="rule.paused"]', "false");
      await page.click("form button:has-text('Save')");
      await page.waitForSelector("[role=status]");
      await applied();
      await arrives("held");

      // A sending domain added in the UI shows its generated DKIM record.
      await page.goto(`${base}/domains`);
      await page.fill('form [name="name"]', "mail.example.test");
      await page.click("form button:has-text('Create')");
      await page.waitForSelector("[role=status]");
      assertMatch(await page.textContent("[data-record=dkim]") ?? "", /v=DKIM1;.*p=/);
      await checkPage(page, "domain");
      // Checked live against DNS: missing at first, then published (on the test's DNS server).
      await page.click("button:has-text('Check DNS now')");
      await page.waitForSelector("[data-check=dkim][data-ok=no]");
      const [dkimName, dkimValue] = await page.locator("[data-record=dkim] td").evaluateAll(
        (cells) => [cells[2].textContent ?? "", cells[3].textContent ?? ""],
      );
      e2e.dns.setRecords(dkimName, { TXT: [dkimValue] });
      await page.click("button:has-text('Check DNS now')");
      await page.waitForSelector("[data-check=dkim][data-ok=yes]");
      await page.waitForSelector("[data-check=fcrdns]");
      await checkPage(page, "domain-dns-check");

      // A CSV of suppressions imported in the UI: the next message to one of them is suppressed.
      await page.goto(`${base}/suppressions`);
      await page.setInputFiles("input[name=file]", {
        name: "suppressions.csv",
        mimeType: "text/csv",
        buffer: Buffer.from(`address,reason\nblocked@${E2E_DOMAIN},complained\nother@x.test,\n`),
      });
      await page.click("form[action='/suppressions/import'] button[type=submit]");
      await page.waitForSelector(`[data-suppression="blocked@${E2E_DOMAIN}"]`);
      await checkPage(page, "suppressions");
      const blocked = await sendWithSwaks({
        server: server.smtpAddress,
        from: "sender@example.test",
        to: [`blocked@${E2E_DOMAIN}`],
        data: "Subject: blocked\r\n\r\nHello\r\n",
      });
      assert(blocked.code === 0 && blocked.queueId, blocked.stdout + blocked.stderr);
      await page.goto(`${base}/messages/${blocked.queueId}`);
      await waitUntil(async () => {
        await page.reload();
        return await page.locator("[data-state=suppressed]").count() === 1;
      }, { timeoutMs: 30_000, message: "the imported address suppressed" });

      // An API key made in the UI is shown once; an SMTP user with a bad name is refused.
      await page.goto(`${base}/accounts/api-keys`);
      await page.fill('form [name="name"]', "deploy");
      await page.selectOption('form [name="role"]', "sender");
      await page.click("form button:has-text('Create')");
      assertMatch(await page.textContent("[data-shown-once]") ?? "", /^fmk_/);
      await page.goto(`${base}/accounts/api-keys`);
      assertEquals(await page.locator("[data-shown-once]").count(), 0, "shown once only");
      await page.waitForSelector('[data-account="deploy"]');
      await checkPage(page, "api-keys");
      await page.goto(`${base}/accounts/smtp-users`);
      await page.fill('form [name="username"]', "bad name");
      await page.fill('form [name="password"]', "secret-password");
      await page.click("form button:has-text('Create')");
      await page.waitForSelector('[data-error="username"]');
      assertEquals(await page.inputValue('form [name="password"]'), "", "no password echoed");
      await checkPage(page, "smtp-users");
      // A delete asks on a page of its own first.
      await page.goto(`${base}/config/vmta/delete?id=127.0.0.12`);
      await page.waitForSelector("[role=alertdialog]");
      await assertAccessible(page, "delete confirmation");

      // The audit log shows the change and its diff.
      await page.goto(`${base}/audit`);
      await checkPage(page, "audit");
      await page.click("[data-audit] a");
      await page.waitForSelector("[data-diff=yes]");
      await checkPage(page, "audit-entry");

      // Delivery log, a 404.
      await page.goto(`${base}/attempts?outcome=delivered&q=${held}`);
      await page.waitForSelector("[data-tail=live]");
      assertEquals(await page.locator("[data-attempt]").count(), 1, "the filter keeps one");
      await page.goto(`${base}/attempts`);
      await page.waitForSelector("[data-tail=live]");
      await checkPage(page, "delivery-log");
      const missing = await page.goto(`${base}/no-such-page`);
      assertEquals(missing?.status(), 404);
      await checkPage(page, "not-found");
      // Keyboard: from the top, Tab reaches the skip link and Enter follows it.
      for (const path of ["/", "/messages", "/config/vmta"]) {
        await page.goto(`${base}${path}`);
        await assertSkipLink(page, path);
      }

      // The islands' error states: their documents unreachable, they say so and keep retrying.
      const down = ["**/api/v1/activity*", "**/api/v1/queue", "**/api/v1/attempts*"];
      for (const url of down) await page.route(url, (route) => route.abort());
      await page.goto(`${base}/`);
      await page.waitForSelector("[data-chart-live=error]", { timeout: 20_000 });
      await page.waitForSelector("[data-live=error]", { timeout: 20_000 });
      await assertAccessible(page, "dashboard, its documents unreachable");
      await page.goto(`${base}/attempts`);
      await page.waitForSelector("[data-tail=error]", { timeout: 20_000 });
      for (const url of down) await page.unroute(url);
      await page.waitForSelector("[data-tail=live]", { timeout: 20_000 });
      await page.goto(`${base}/`);
      await page.waitForSelector("[data-chart-live=yes]", { timeout: 20_000 });
      await page.waitForSelector("[data-live=yes]", { timeout: 20_000 });
      // Pages not screenshotted pass axe-core too: a message action's confirmation, webhooks.
      await page.goto(`${base}/messages/${first}/confirm?action=bounce`);
      await page.waitForSelector("[role=alertdialog]");
      await assertAccessible(page, "bounce confirmation");
      await page.goto(`${base}/webhooks`);
      await assertAccessible(page, "webhooks");

      // The login page, as someone not logged in sees it.
      const visitor = await (await browser.newContext({ bypassCSP: true })).newPage();
      await visitor.goto(`${base}/login`);
      await checkPage(visitor, "login");

      // A form post without the CSRF token is refused, even with the session cookie.
      const forged = await page.evaluate(async () => {
        const body = new URLSearchParams({ ip: "127.0.0.13", hostname: "x.test" });
        return (await fetch("/config/vmta", { method: "POST", body })).status;
      });
      assertEquals(forged, 403);

      // A viewer sees no mutating control; a post with its own CSRF token is still 403.
      const add = await runCli(
        ["admin", "add", "vera", "--role", "viewer", "--config", configPath],
        {
          stdin: "viewer-password-123\n",
        },
      );
      assert(add.success, add.stdout + add.stderr);
      const viewer = await loggedIn(browser, base, "vera", "viewer-password-123");
      await viewer.goto(`${base}/config/vmta`);
      assertEquals(await viewer.locator("form[method=post]:not([action='/logout'])").count(), 0);
      await viewer.goto(`${base}/config/vmta/edit?id=127.0.0.12`);
      assertEquals(await viewer.locator("form[method=post]:not([action='/logout'])").count(), 0);
      await viewer.goto(`${base}/messages/${first}`);
      await viewer.waitForSelector("[data-why]");
      assertEquals(await viewer.locator("form[method=post]:not([action='/logout'])").count(), 0);
      for (const path of ["/queue", "/domains", "/suppressions", `/audit`]) {
        await viewer.goto(`${base}${path}`);
        assertEquals(
          await viewer.locator("form[method=post]:not([action='/logout'])").count(),
          0,
          `no mutating control for a viewer on ${path}`,
        );
      }
      const csrf = await viewer.getAttribute("meta[name=csrf-token]", "content");
      const viewerPost = await viewer.evaluate(async (csrf) => {
        const body = new URLSearchParams({ ip: "127.0.0.13", hostname: "x.test", _csrf: csrf });
        return (await fetch("/config/vmta", { method: "POST", body })).status;
      }, csrf ?? "");
      assertEquals(viewerPost, 403);
      const { body } = await adminApi<{ items: unknown[] }>(server, "/api/v1/vmtas");
      assertEquals(body.items.length >= 1, true);
      assert(!JSON.stringify(body).includes("127.0.0.13"), "nothing made by the forged posts");
    } catch (error) {
      e2e.dump();
      throw error;
    } finally {
      await browser.close();
      await server.stop();
    }
  },
});
