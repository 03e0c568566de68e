/**
 * The console in real headless Chromium (Debian's, driven by playwright-core): launch with the
 * project's flags, log in, check a page with axe-core (no serious or critical violation), check
 * it fits a 390 px phone, and screenshot it into docs/screenshots/ for the README.
 */
import axe from "axe-core";
import { type Browser, chromium, type Page } from "playwright-core";
import { assertEquals } from "./assert.ts";

/** Whether Debian's chromium is installed (the tests are skipped without it). */
export const HAVE_CHROMIUM = await Deno.stat("/usr/bin/chromium").then(() => true, () => false);

const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Launches Chromium. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_FLAGS });
}

/** A new page logged in as `user` on `base`. */
export async function loggedIn(
  browser: Browser,
  base: string,
  user: string,
  password: string,
  viewport = { width: 1280, height: 900 },
): Promise<Page> {
  // axe-core is evaluated into the page by the test: the console's CSP rightly forbids that.
  const context = await browser.newContext({ viewport, bypassCSP: true });
  const page = await context.newPage();
  await page.goto(base + "/login");
  await page.fill("input[name=username]", user);
  await page.fill("input[name=password]", password);
  await page.click("button[type=submit]");
  await page.waitForURL(base + "/");
  return page;
}

/** Serious or critical axe-core violations of the page (as "rule: target" lines). */
export async function axeViolations(page: Page): Promise<string[]> {
  await page.evaluate(axe.source);
  const found = await page.evaluate(`axe.run(document, { resultTypes: ["violations"] })
    .then((r) => r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      targets: v.nodes.map((n) => String(n.target)).slice(0, 3),
    })))`);
  return (found as { id: string; impact: string; targets: string[] }[])
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.targets.join(", ")}`);
}

/** Fails when axe finds a serious or critical violation on the page. */
export async function assertAccessible(page: Page, name: string): Promise<void> {
  assertEquals(await axeViolations(page), [], `accessibility of ${name}`);
}

/** Fails when the page is wider than a 390 px phone (the document scrolls sideways). */
export async function assertFitsPhone(page: Page, name: string): Promise<void> {
  const size = page.viewportSize();
  await page.setViewportSize({ width: 390, height: 844 });
  const width = await page.evaluate<number>("document.documentElement.scrollWidth");
  const wide = width <= 390
    ? ""
    : await page.evaluate<string>(`[...document.querySelectorAll("body *")]
    .filter((e) => e.getBoundingClientRect().right > 391)
    .slice(0, 5).map((e) => e.tagName + "." + e.className).join("; ")`);
  if (size) await page.setViewportSize(size);
  assertEquals(width <= 390, true, `${name} is ${width} px wide at a 390 px viewport: ${wide}`);
}

const SCREENSHOTS = new URL("../../docs/screenshots/", import.meta.url);

/** Saves the page as docs/screenshots/<name>.png (the README shows them). */
export async function screenshot(page: Page, name: string): Promise<void> {
  await Deno.mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: new URL(`${name}.png`, SCREENSHOTS).pathname, fullPage: false });
}

/** Accessibility, phone width and a screenshot of the page now shown. */
export async function checkPage(page: Page, name: string): Promise<void> {
  await assertAccessible(page, name);
  await assertFitsPhone(page, name);
  await screenshot(page, name);
}
