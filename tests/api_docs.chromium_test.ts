/**
 * The API reference page `/api/docs` in real headless Chromium: Swagger UI, served from the npm
 * package by our own routes (no CDN: any request to another origin fails the test), under the
 * app's strict CSP (a violation fails it too), renders the operations of /api/v1/openapi.json.
 */
import { chromium } from "playwright-core";
import { assert, assertEquals } from "./helpers/assert.ts";
import { tempDir, uniqueLoopbackIp } from "./helpers/net.ts";
import { adminFixture } from "./helpers/admin_fixture.ts";
import { fakeResources } from "./helpers/fake_objects.ts";

const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
];

Deno.test({
  name: "api docs: Swagger UI renders the OpenAPI document from our own files, CSP intact",
  ignore: !(await Deno.stat("/usr/bin/chromium").then(() => true, () => false)),
  async fn() {
    await using dir = tempDir();
    const { app, store } = await adminFixture(dir.path, { resources: fakeResources() });
    const hostname = uniqueLoopbackIp();
    const server = Deno.serve({ hostname, port: 0, onListen: () => {} }, app.fetch);
    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: CHROMIUM_FLAGS,
    });
    try {
      const base = `http://${hostname}:${server.addr.port}`;
      const page = await browser.newPage();
      const foreign: string[] = [];
      const problems: string[] = [];
      page.on("request", (request) => {
        if (!request.url().startsWith(base) && !request.url().startsWith("data:")) {
          foreign.push(request.url());
        }
      });
      page.on("console", (message) => {
        if (message.type() === "error") problems.push(message.text());
      });
      page.on("pageerror", (error) => problems.push(error.message));

      const response = await page.goto(`${base}/api/docs`);
      assertEquals(response?.status(), 200);
      assert(
        response?.headers()["content-security-policy"]?.includes("script-src 'self'"),
        "the docs page is served under the app's CSP",
      );
      await page.locator(".opblock-summary-path", { hasText: "/vmtas/{id}" }).first()
        .waitFor({ timeout: 30_000 });
      const paths = await page.locator(".opblock-summary-path").allTextContents();
      for (const path of ["/messages", "/messages/{id}", "/queue", "/nodes", "/vmtas"]) {
        assert(paths.some((p) => p.trim() === path), `${path} not shown: ${paths.join(", ")}`);
      }
      assertEquals(foreign, [], "the page loads nothing from another origin");
      assertEquals(problems.filter((p) => /Content Security Policy|Refused/.test(p)), []);
      await page.screenshot({
        path: Deno.env.get("FASTMTA_SCREENSHOT") ?? `${dir.path}/api_docs.png`,
        fullPage: false,
      });
    } finally {
      await browser.close();
      await server.shutdown();
      await store.close();
    }
  },
});
