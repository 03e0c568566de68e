/**
 * Two nodes (RabbitMQ + PostgreSQL), one console each, in real headless Chromium: a pool created
 * in node A's console is shown by node B's configuration page, and B's dashboard lists both
 * nodes at the cluster's config version; B's audit log names who made the change on A.
 */
import type { Page } from "playwright-core";
import { assertEquals, assertMatch } from "./helpers/assert.ts";
import { startCluster } from "./helpers/cluster_fixture.ts";
import { HAVE_CHROMIUM, launchChromium, loggedIn } from "./helpers/console_browser.ts";
import { adminApi, runCli } from "./helpers/server_process.ts";
import { waitUntil } from "./helpers/wait.ts";

interface NodesBody {
  nodes: { details: { objects_version?: number } }[];
}

Deno.test({
  name: "console, two nodes: a change in node A's console is shown on node B's",
  ignore: !HAVE_CHROMIUM,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using c = await startCluster();
    const [a, b] = c.servers;
    const path = await Deno.makeTempFile({ suffix: ".json" });
    const browser = await launchChromium();
    try {
      await Deno.writeTextFile(path, JSON.stringify(c.configs[0]));
      const add = await runCli(["admin", "add", "olga", "--config", path], {
        stdin: "cluster-password-123\n",
      });
      assertEquals(add.code, 0, add.stdout + add.stderr);

      const onA: Page = await loggedIn(browser, a.adminUrl!, "olga", "cluster-password-123");
      await onA.goto(`${a.adminUrl}/config/pool`);
      await onA.fill('form [name="name"]', "from-node-a");
      await onA.fill('form [name="description"]', "made in node A's console");
      await onA.click("form button:has-text('Create')");
      await onA.waitForSelector("[role=status]");

      const onB: Page = await loggedIn(browser, b.adminUrl!, "olga", "cluster-password-123");
      await onB.goto(`${b.adminUrl}/config/pool`);
      await onB.waitForSelector('[data-object="from-node-a"]');
      await onB.goto(`${b.adminUrl}/audit`);
      assertMatch(await onB.textContent("[data-audit]") ?? "", /olga[\s\S]*create[\s\S]*pool/);

      // Both nodes apply it; B's dashboard shows each at the cluster's version.
      const { body } = await adminApi<{ items: { config_version: number }[] }>(
        b,
        "/api/v1/audit?limit=1",
      );
      const version = body.items[0].config_version;
      await waitUntil(async () => {
        const nodes = await adminApi<NodesBody>(b, "/api/v1/nodes");
        return nodes.body.nodes.length === 2 &&
          nodes.body.nodes.every((n) => (n.details.objects_version ?? 0) >= version);
      }, { timeoutMs: 20_000, message: `both nodes at config version ${version}` });
      await onB.goto(`${b.adminUrl}/`);
      const applied = await onB.locator("[data-applied]").evaluateAll((cells) =>
        cells.map((cell) => cell.getAttribute("data-applied"))
      );
      assertEquals(applied, [String(version), String(version)]);
    } catch (error) {
      c.dump();
      throw error;
    } finally {
      await browser.close();
      await Deno.remove(path);
    }
  },
});
