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
export function assertFitsPhone(page: Page, name: string): Promise<void> {
  return assertFitsWidth(page, name, 390, 844);
}

/** Fails when the page scrolls sideways at `width` px (a phone, or a wide screen). */
export async function assertFitsWidth(
  page: Page,
  name: string,
  width: number,
  height: number,
): Promise<void> {
  const size = page.viewportSize();
  await page.setViewportSize({ width, height });
  const scroll = await page.evaluate<number>("document.documentElement.scrollWidth");
  const wide = scroll <= width
    ? ""
    : await page.evaluate<string>(`[...document.querySelectorAll("body *")]
    .filter((e) => e.getBoundingClientRect().right > ${width + 1})
    .slice(0, 5).map((e) => e.tagName + "." + e.className).join("; ")`);
  if (size) await page.setViewportSize(size);
  assertEquals(
    scroll <= width,
    true,
    `${name} is ${scroll} px wide at a ${width} px viewport: ${wide}`,
  );
}

/** Tab from the top reaches the skip link first, and following it moves focus to <main>. */
export async function assertSkipLink(page: Page, name: string): Promise<void> {
  await page.evaluate("document.activeElement?.blur(); window.scrollTo(0, 0)");
  await page.keyboard.press("Tab");
  assertEquals(
    await page.evaluate<string>("document.activeElement?.getAttribute('href') ?? ''"),
    "#main",
    `${name}: the first Tab stop is the skip link`,
  );
  await page.keyboard.press("Enter");
  assertEquals(
    await page.evaluate<string>("location.hash"),
    "#main",
    `${name}: the skip link jumps to the main region`,
  );
}

const SCREENSHOTS = new URL("../../docs/screenshots/", import.meta.url);

/** Saves the page as docs/screenshots/<name>.png (the README shows them). */
export async function screenshot(page: Page, name: string): Promise<void> {
  await Deno.mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: new URL(`${name}.png`, SCREENSHOTS).pathname, fullPage: false });
}

/** Accessibility, phone and wide-screen width, and a screenshot of the page now shown. */
export async function checkPage(page: Page, name: string): Promise<void> {
  await assertAccessible(page, name);
  await assertFitsPhone(page, name);
  await assertFitsWidth(page, name, 1920, 1080);
  await screenshot(page, name);
}
